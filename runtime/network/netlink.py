"""rtnetlink spoken directly: the few messages a container's network needs.

Not `ip` (iproute2): each `ip` run is a fork and exec of ~2 ms, and a start
needs three or four of them; not pyroute2: importing it costs a process
~110 ms. A socket is bound to the network namespace it was made in, so a
process may hold one of the host's and make another inside a container's
(see runtime.network.inside). Every request asks for an acknowledgement and
a failure raises OSError with the kernel's errno and the request's name.
"""

import os
import socket
import struct

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR = 20
RTM_NEWROUTE = 24
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER = 1, 3, 4, 10
IFLA_LINKINFO, IFLA_NET_NS_FD = 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_GATEWAY, RTA_OIF = 5, 4
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1
IFF_UP = 0x1
NETLINK_NETFILTER = 12
NFT_MSG_GETTABLE = (10 << 8) | 1  # NFNL_SUBSYS_NFTABLES
NFTA_TABLE_NAME = 1
NFPROTO_INET, NFPROTO_BRIDGE = 1, 7

_HEADER = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")


def attr(kind: int, data: bytes) -> bytes:
    size = 4 + len(data)
    return struct.pack("=HH", size, kind) + data + b"\0" * (-size & 3)


def ifinfo(index: int = 0, up: bool = False) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP if up else 0)


def name_attr(name: str) -> bytes:
    return attr(IFLA_IFNAME, name.encode() + b"\0")


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


class Socket:
    """A NETLINK_ROUTE (or `protocol`) socket of the namespace the caller is in now."""

    def __init__(self, protocol: int = socket.NETLINK_ROUTE):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, protocol)
        self.sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def fileno(self) -> int:
        return self.sock.fileno()

    def request(self, what: str, kind: int, flags: int, body: bytes) -> None:
        self._seq += 1
        self.sock.send(_HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, self._seq, 0)
                       + body)
        while True:
            reply = self.sock.recv(65536)
            offset = 0
            while offset < len(reply):
                size, rtype, _, seq, _ = _HEADER.unpack_from(reply, offset)
                if rtype == NLMSG_ERROR and seq == self._seq:
                    error = -struct.unpack_from("=i", reply, offset + _HEADER.size)[0]
                    if error:
                        raise OSError(error, f"{what}: {os.strerror(error)}")
                    return
                offset += (size + 3) & ~3

    def add_bridge(self, name: str, mtu: int) -> None:
        info = attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b"bridge"))
        self.request(f"add bridge {name}", RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                     ifinfo(up=True) + name_attr(name) + attr(IFLA_MTU, struct.pack("=I", mtu)) + info)

    def add_veth(self, host_name: str, master: int, mtu: int, peer_name: str, peer_mac: str, peer_netns: int) -> None:
        """A veth pair: host_name up on bridge `master` (an index) here, its
        peer in the namespace of the descriptor peer_netns, down: the
        kernel configures the peer before pairing the two, and a veth
        without its peer cannot be brought up (ENOTCONN)."""
        mtu_attr = attr(IFLA_MTU, struct.pack("=I", mtu))
        peer = (ifinfo() + name_attr(peer_name) + mtu_attr + attr(IFLA_ADDRESS, mac_bytes(peer_mac))
                + attr(IFLA_NET_NS_FD, struct.pack("=I", peer_netns)))
        info = attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b"veth")
                    + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer)))
        self.request(f"add veth {host_name}", RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                     ifinfo(up=True) + name_attr(host_name) + mtu_attr
                     + attr(IFLA_MASTER, struct.pack("=I", master)) + info)

    def set_up(self, index: int) -> None:
        self.request(f"bring up link {index}", RTM_NEWLINK, 0, ifinfo(index, up=True))

    def delete_link(self, name: str) -> None:
        self.request(f"delete link {name}", RTM_DELLINK, 0, ifinfo() + name_attr(name))

    def add_address(self, index: int, address: str, prefix: int) -> None:
        packed = socket.inet_aton(address)
        body = struct.pack("=BBBBI", socket.AF_INET, prefix, 0, RT_SCOPE_UNIVERSE, index)
        self.request(f"add address {address}/{prefix}", RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
                     body + attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed))

    def add_default_route(self, index: int, gateway: str) -> None:
        body = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE,
                           RTN_UNICAST, 0)
        self.request(f"add default route via {gateway}", RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
                     body + attr(RTA_GATEWAY, socket.inet_aton(gateway)) + attr(RTA_OIF, struct.pack("=I", index)))


def nft_table_exists(family: int, name: str) -> bool:
    """Whether nftables has table `name` of family (NFPROTO_*), asked over
    nfnetlink: a start checks the policy is loaded without running `nft`."""
    nfnl = Socket(NETLINK_NETFILTER)
    try:
        nfnl.request(f"nftables table {name}", NFT_MSG_GETTABLE, 0,
                     struct.pack("=BBH", family, 0, 0) + attr(NFTA_TABLE_NAME, name.encode() + b"\0"))
    except FileNotFoundError:
        return False
    finally:
        nfnl.close()
    return True
