"""DNS messages as the node's DNS service reads and writes them (RFC 1035):
the question of a standard query, and a reply of one A record or none."""

import socket
import struct

TTL = 5
SERVFAIL = 2
_HEADER = struct.Struct("!HHHHHH")


def question(packet: bytes) -> tuple[str, int, int] | None:
    """(lowercased name, qtype, end offset of the question) of a standard query, or None."""
    if len(packet) < _HEADER.size:
        return None
    _, flags, qdcount, _, _, _ = _HEADER.unpack_from(packet)
    if flags & 0x8000 or (flags >> 11) & 0xF or qdcount != 1:
        return None
    labels, offset = [], _HEADER.size
    while offset < len(packet):
        size = packet[offset]
        offset += 1
        if size == 0:
            if offset + 4 > len(packet):
                return None
            qtype = struct.unpack_from("!H", packet, offset)[0]
            return ".".join(labels).lower(), qtype, offset + 4
        if size & 0xC0 or offset + size > len(packet):
            return None
        labels.append(packet[offset:offset + size].decode("ascii", "replace"))
        offset += size
    return None


def answer(query: bytes, end: int, address: str | None, rcode: int = 0) -> bytes:
    """A reply to query: one A record of address (None: no record), or rcode."""
    qid, flags = struct.unpack_from("!HH", query)
    reply_flags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
    records = b""
    if address is not None:
        records = struct.pack("!HHHIH", 0xC00C, 1, 1, TTL, 4) + socket.inet_aton(address)
    return _HEADER.pack(qid, reply_flags, 1, 1 if records else 0, 0, 0) + query[_HEADER.size:end] + records


def local(packet: bytes, names) -> tuple[bytes | None, int] | None:
    """None for anything but a standard query; else (reply, end of its
    question): the reply from names (a Names of runtime.network.dns), or
    None when the name is not theirs and goes upstream."""
    asked = question(packet)
    if asked is None:
        return None
    name, qtype, end = asked
    address = names.lookup(name)
    if address is None:
        return None, end
    # Containers have IPv4 only: any other type gets an empty answer.
    return answer(packet, end, address if qtype == 1 else None), end
