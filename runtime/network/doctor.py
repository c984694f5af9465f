"""`network doctor`: what the networks of a state root need from the host,
and whether they have it. Each check gives (ok, what it found)."""

import os
import shutil
import subprocess

from runtime.network import dns, networks, policy
from runtime.network.store import NetworkStore


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _nft(*args) -> str:
    return subprocess.run(["nft", *args], capture_output=True, text=True).stdout


def checks(root: str) -> list[tuple[bool, str]]:
    store = NetworkStore(root)
    found = store.list()
    results = []
    for tool, package in (("nft", "nftables"), ("conntrack", "conntrack")):
        results.append((shutil.which(tool) is not None, f"the {tool} command (Debian: {package})"))
    if not found:
        return results + [(True, "no networks")]
    table = policy.table_name(root)
    tables = _nft("list", "tables") if shutil.which("nft") else ""
    for family in ("inet", "bridge"):
        results.append((f"table {family} {table}\n" in tables + "\n",
                        f"nftables table {family} {table} (missing: network reconcile)"))
    if any(n.egress != "none" for n in found):
        results.append((_read("/proc/sys/net/ipv4/ip_forward") == "1", "net.ipv4.ip_forward is 1"))
    for network in found:
        results.append((networks.bridge_index(network) is not None,
                        f"network {network.name}: bridge {network.bridge} (missing: network reconcile)"))
        for address, cid in store.leases(network.name).items():
            if not os.path.exists(f"{root}/containers/{cid}/state.json"):
                results.append((False, f"network {network.name}: lease {address} of a deleted container "
                                       "(network reconcile frees it)"))
    results.append((dns.running(root), "the DNS service runs (missing: network reconcile)"))
    if _read("/proc/sys/net/bridge/bridge-nf-call-iptables") == "1":
        results.append((True, "br_netfilter passes bridged traffic through the inet hooks: accepted within a network"))
    for line in _nft("list", "chains").splitlines():
        if "hook forward" in line and "policy drop" in line:
            results.append((False, "a forward chain of another table drops by default: accept traffic from and to "
                                   "the bridges (iifname/oifname \"tb-*\") there"))
            break
    return results
