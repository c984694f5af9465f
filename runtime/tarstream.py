"""A streaming tar reader: ustar, GNU (long names, base-256 numbers) and
pax (per-entry and global) headers, names kept as raw bytes.

It parses headers only; the caller consumes each entry's data from the
stream (or leaves it, and the reader skips it).
"""

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from runtime.errors import ImportFailed

BLOCK = 512
MAX_META = 1 << 20

REG, LNK, SYM, CHR, BLK, DIR, FIFO = "reg", "lnk", "sym", "chr", "blk", "dir", "fifo"
_KINDS = {b"0": REG, b"\x00": REG, b"7": REG, b"1": LNK, b"2": SYM, b"3": CHR, b"4": BLK, b"5": DIR, b"6": FIFO}


@dataclass(slots=True)
class Entry:
    name: bytes
    kind: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    linkname: bytes = b""
    xattrs: dict = field(default_factory=dict)


def show(name: bytes) -> str:
    """A path quoted for a one-line message, whatever bytes it holds."""
    return repr(name.decode("utf-8", "backslashreplace"))


def _cstr(field_bytes: bytes) -> bytes:
    end = field_bytes.find(b"\x00")
    return field_bytes if end < 0 else field_bytes[:end]


def _number(field_bytes: bytes, what: str) -> int:
    if field_bytes[0] & 0x80:
        if field_bytes[0] != 0x80:
            raise ImportFailed(f"archive is corrupt: negative {what} in a tar header")
        return int.from_bytes(field_bytes[1:], "big")
    text = field_bytes.replace(b"\x00", b" ").strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise ImportFailed(f"archive is corrupt: bad {what} field in a tar header") from None


def _mtime_ns(text: bytes) -> int:
    try:
        return int(Decimal(text.decode("ascii")) * 1_000_000_000)
    except (InvalidOperation, UnicodeDecodeError, ValueError):
        raise ImportFailed("archive is corrupt: bad pax mtime") from None


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    records, pos = {}, 0
    while pos < len(data) and data[pos:pos + 1] != b"\x00":
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space])
        except ValueError:
            raise ImportFailed("archive is corrupt: bad pax header record") from None
        record = data[space + 1:pos + length]
        if length <= 0 or space < 0 or not record.endswith(b"\n") or b"=" not in record:
            raise ImportFailed("archive is corrupt: bad pax header record")
        key, _, value = record[:-1].partition(b"=")
        records[key] = value
        pos += length
    return records


def _pax_int(records: dict[bytes, bytes], key: bytes) -> int:
    value = records[key]
    if not value.isdigit():
        raise ImportFailed(f"archive is corrupt: bad pax {key.decode()} {show(value)}")
    return int(value)


def checksum_ok(block: bytes) -> bool:
    try:
        stored = int(block[148:156].replace(b"\x00", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    return stored == sum(block[:148]) + 256 + sum(block[156:])


def entries(stream):
    """Yield each Entry of the tar in `stream` (an archive.DecodedStream).

    The caller may consume up to entry.size bytes of data before asking
    for the next entry; the rest and the padding are skipped here.
    """
    global_pax: dict[bytes, bytes] = {}
    pax: dict[bytes, bytes] = {}
    long_name = long_link = None
    previous = b""
    while True:
        if stream.at_eof():
            if previous or pax or long_name is not None:
                raise ImportFailed("archive is truncated: no end-of-archive marker")
            return
        block = stream.read_exact(BLOCK)
        if block == bytes(BLOCK):
            return
        if not checksum_ok(block):
            where = f" after entry {show(previous)}" if previous else ""
            raise ImportFailed(f"archive is corrupt: bad tar header checksum{where}")
        typeflag = block[156:157]
        size = _number(block[124:136], "size")
        if typeflag in (b"x", b"g", b"L", b"K"):
            if size > MAX_META:
                raise ImportFailed(f"archive is corrupt: a {size} byte tar meta header")
            data = stream.read_exact(size)
            stream.skip(-size % BLOCK)
            if typeflag == b"x":
                pax = _pax_records(data)
            elif typeflag == b"g":
                global_pax.update(_pax_records(data))
            elif typeflag == b"L":
                long_name = _cstr(data)
            else:
                long_link = _cstr(data)
            continue
        merged = {**global_pax, **pax} if global_pax else pax
        name = _cstr(block[0:100])
        if block[257:263] == b"ustar\x00":
            prefix = _cstr(block[345:500])
            if prefix:
                name = prefix + b"/" + name
        if long_name is not None:
            name = long_name
        name = merged.get(b"path", name)
        linkname = merged.get(b"linkpath", long_link if long_link is not None else _cstr(block[157:257]))
        if any(key.startswith(b"GNU.sparse") for key in merged) or typeflag == b"S":
            raise ImportFailed(f"entry {show(name)}: sparse files are not supported")
        kind = _KINDS.get(typeflag)
        if kind == REG and name.endswith(b"/"):
            kind = DIR
        if kind is None:
            if typeflag == b"V":
                pax, long_name, long_link = {}, None, None
                continue
            raise ImportFailed(f"entry {show(name)}: unsupported tar entry type {typeflag!r}")
        if b"size" in merged:
            size = _pax_int(merged, b"size")
        # Only regular files carry data; other types' size fields are ignored, as tar does.
        size = size if kind == REG else 0
        entry = Entry(
            name=name,
            kind=kind,
            mode=_number(block[100:108], "mode") & 0o7777,
            uid=_pax_int(merged, b"uid") if b"uid" in merged else _number(block[108:116], "uid"),
            gid=_pax_int(merged, b"gid") if b"gid" in merged else _number(block[116:124], "gid"),
            size=size,
            mtime_ns=_mtime_ns(merged[b"mtime"]) if b"mtime" in merged else _number(block[136:148], "mtime") * 1_000_000_000,
            linkname=linkname,
            xattrs={k[13:]: v for k, v in merged.items() if k.startswith(b"SCHILY.xattr.")} if merged else {},
        )
        pax, long_name, long_link = {}, None, None
        previous = name
        start = stream.offset
        yield entry
        consumed = stream.offset - start
        stream.skip(size - consumed + (-size % BLOCK))
