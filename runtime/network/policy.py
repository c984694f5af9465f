"""The networks' policy, in nftables tables of Terrarium's own.

The whole policy of a state root is rendered from its networks and loaded
with one `nft -f` transaction that deletes and remakes its two tables, so
it is never half applied and nothing else on the host is touched; without
networks the tables are gone. No iptables.

- `inet <table>`: a container reaches the host only at its network's DNS
  (its gateway, port 53); nothing enters a network but replies (traffic
  between networks, and from the outside, dropped); out of a network by
  its egress: `open` anything, `internet` anything but private and
  link-local addresses (both masqueraded), `none` nothing. The host's own
  processes (the dashboard's app proxy) open connections to any
  container's address, whatever its egress or icc: their packets pass no
  hook of ours on the way out, and the replies come back as established.
- `bridge <table>`: a frame from a container's port (any name a network's
  addresses give, see runtime.network.addresses.port_name) passes only with that
  container's MAC and address (IPv4 and ARP; anything else is dropped,
  IPv6 included); on a network without inter-container traffic (`--no-icc`)
  frames between its ports are dropped. The (port, MAC, address) triples of
  every address a network may lease are listed when the network is made
  (see runtime.network.addresses), so a start changes no rule.

The order of the hooks and this table's chains is ours; a host firewall
whose forward chain drops by default must accept the bridges' traffic too
(`network doctor` says so).
"""

import hashlib
import subprocess

from runtime import settings
from runtime.errors import TerrariumError
from runtime.network import addresses

# Destinations `internet` egress never reaches (RFC 6890's private and special ranges).
PRIVATE = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
           "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/3")


def table_name(root: str) -> str:
    """`terrarium` for the default state root; another root's tables are its own."""
    if root == settings.DEFAULT_ROOT:
        return "terrarium"
    return "terrarium-" + hashlib.sha256(root.encode()).hexdigest()[:8]


def _set(name: str, kind: str, elements, flags: str = "") -> str:
    items = ", ".join(elements)
    body = f"type {kind}; {flags}" + (f"elements = {{ {items} }}" if items else "")
    return f"  set {name} {{ {body} }}"


def _q(name: str) -> str:
    return f'"{name}"'


def render(table: str, networks) -> str:
    lines = [f"table inet {table}", f"delete table inet {table}",
             f"table bridge {table}", f"delete table bridge {table}"]
    if not networks:
        return "\n".join(lines) + "\n"
    bridges = [_q(n.bridge) for n in networks]
    ports = {n.name: [(_q(addresses.port_name(a)), a) for a in addresses.hosts(n.subnet)] for n in networks}
    triples = [f"{port} . {addresses.mac_for(a)} . {a}" for n in networks for port, a in ports[n.name]]
    lines += [
        f"table inet {table} {{",
        _set("bridges", "ifname", bridges),
        _set("dns", "ifname . ipv4_addr", [f"{_q(n.bridge)} . {n.gateway}" for n in networks]),
        _set("blocked", "ipv4_addr", PRIVATE, "flags interval; auto-merge; "),
        _set("egress_open", "ifname", [_q(n.bridge) for n in networks if n.egress == "open"]),
        _set("egress_internet", "ifname", [_q(n.bridge) for n in networks if n.egress == "internet"]),
        "  chain input { type filter hook input priority filter; policy accept;",
        "    iifname != @bridges accept",
        "    ct state established,related accept",
        "    iifname . ip daddr @dns udp dport 53 accept",
        "    iifname . ip daddr @dns tcp dport 53 accept",
        "    drop",
        "  }",
        _set("within", "ifname . ifname", [f"{_q(n.bridge)} . {_q(n.bridge)}" for n in networks]),
        "  chain forward { type filter hook forward priority filter; policy accept;",
        # Seen here only with br_netfilter on: traffic within one network (the bridge table decides).
        "    iifname . oifname @within accept",
        "    oifname @bridges ct state established,related accept",
        "    oifname @bridges drop",
        "    iifname @egress_open accept",
        "    iifname @egress_internet ip daddr != @blocked accept",
        "    iifname @bridges drop",
        "  }",
        "  chain postrouting { type nat hook postrouting priority srcnat; policy accept;",
        "    iifname @bridges oifname != @bridges masquerade",
        "  }",
        "}",
        f"table bridge {table} {{",
        _set("ports", "ifname", [port for n in networks for port, _ in ports[n.name]]),
        _set("allowed", "ifname . ether_addr . ipv4_addr", triples),
        _set("noicc", "ifname", [port for n in networks if not n.icc for port, _ in ports[n.name]]),
        "  chain prerouting { type filter hook prerouting priority filter; policy accept;",
        "    iifname != @ports accept",
        "    ether type ip iifname . ether saddr . ip saddr @allowed accept",
        "    ether type arp iifname . ether saddr . arp saddr ip @allowed accept",
        "    drop",
        "  }",
        "  chain forward { type filter hook forward priority filter; policy accept;",
        "    iifname @noicc drop",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def apply(root: str, networks) -> None:
    nft(render(table_name(root), networks))


def nft(text: str) -> None:
    try:
        done = subprocess.run(["nft", "-f", "-"], input=text.encode(), capture_output=True)
    except FileNotFoundError:
        raise TerrariumError("networks need nftables: install the nft command (Debian: nftables)") from None
    if done.returncode != 0:
        first = (done.stderr.decode(errors="replace").strip().splitlines() or ["nft failed"])[0]
        raise TerrariumError(f"cannot load the network policy: {first}")


def cut_connections(subnet: str) -> None:
    """Forget the tracked connections of a network's addresses: with them
    gone, packets of an open connection no longer pass as established."""
    address, prefix = subnet.split("/")
    mask = addresses.netmask(int(prefix))
    for option in ("-s", "-d"):
        try:
            subprocess.run(["conntrack", "-D", option, address, f"--mask-{'src' if option == '-s' else 'dst'}", mask],
                           capture_output=True)
        except FileNotFoundError:
            raise TerrariumError("cutting connections needs the conntrack command (Debian: conntrack)") from None
