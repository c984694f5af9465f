"""A streaming tar reader: ustar, GNU (long names, base-256 numbers) and
pax (per-entry and global) headers, names kept as raw bytes.

It parses headers only; the caller consumes each entry's data from the
stream (or leaves it, and the reader skips it).
"""

import re
import struct
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from zlib import adler32

from runtime.errors import ImportFailed

BLOCK = 512
MAX_META = 1 << 20

REG, LNK, SYM, CHR, BLK, DIR, FIFO = "reg", "lnk", "sym", "chr", "blk", "dir", "fifo"
ZEROS = bytes(BLOCK)
# Anything clean_path would change: an empty, `.` or `..` component, or a leading slash.
_UNCLEAN = re.compile(rb"(?:^|/)(?:\.\.?)?(?:/|$)")
# name, typeflag, linkname, magic+version, prefix.
_HEADER = struct.Struct("100s56xc100s8s80x155s")
# mode, uid, gid, size, mtime.
_NUMBERS = struct.Struct("100x8s8s8s12s12s")
_NUMBER_NAMES = ("mode", "uid", "gid", "size", "mtime")
_PLAIN_OCTAL = b"01234567 \x00"
_META = frozenset((b"x", b"g", b"L", b"K"))
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
    xattrs: tuple[tuple[bytes, bytes], ...] = ()


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
    text = field_bytes.strip(b" \x00")
    try:
        # isdigit first: int() would also take signs, underscores and a 0o prefix.
        return int(text, 8) if text.isdigit() else _empty(text)
    except ValueError:
        raise ImportFailed(f"archive is corrupt: bad {what} field in a tar header") from None


def _empty(text: bytes) -> int:
    if text:
        raise ValueError(text)
    return 0


def _numbers(block: bytes) -> list[int]:
    """The mode, uid, gid, size and mtime of a header."""
    fields = _NUMBERS.unpack_from(block)
    # One check for the usual all-octal fields leaves int() nothing it would wrongly accept.
    if not block[100:148].translate(None, _PLAIN_OCTAL):
        try:
            return [int(f.strip(b" \x00") or b"0", 8) for f in fields]
        except ValueError:
            pass
    return [_number(f, what) for f, what in zip(fields, _NUMBER_NAMES)]


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
        stored = int(block[148:156].strip(b" \x00"), 8)
    except ValueError:
        return False
    # The byte sum, with the checksum field counted as eight spaces (256).
    # The low half of an Adler-32 is 1 + the byte sum mod 65521, exact for up
    # to 256 bytes: three C calls instead of a Python loop over 504 bytes.
    return stored == (adler32(block[:148]) & 0xFFFF) + (adler32(block[156:412]) & 0xFFFF) + (
        adler32(block[412:512]) & 0xFFFF) + 253


def entries(stream):
    """Yield each Entry of the tar in `stream` (an archive.DecodedStream).

    The caller may consume up to entry.size bytes of data before asking
    for the next entry; the rest and the padding are skipped here.
    """
    global_pax: dict[bytes, bytes] = {}
    pax: dict[bytes, bytes] = {}
    long_name = long_link = None
    previous = b""
    header, unpack = stream.header, _HEADER.unpack_from
    while True:
        block = header()
        if not block:
            if previous or pax or long_name is not None:
                raise ImportFailed("archive is truncated: no end-of-archive marker")
            return
        if block == ZEROS:
            return
        if not checksum_ok(block):
            where = f" after entry {show(previous)}" if previous else ""
            raise ImportFailed(f"archive is corrupt: bad tar header checksum{where}")
        name, typeflag, linkname, magic, prefix = unpack(block)
        mode, uid, gid, size, mtime = _numbers(block)
        if typeflag in _META:
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
        name = _cstr(name)
        if prefix[0] and magic[:6] == b"ustar\x00":
            name = _cstr(prefix) + b"/" + name
        if long_name is not None:
            name = long_name
        linkname = long_link if long_link is not None else _cstr(linkname)
        merged = {**global_pax, **pax} if global_pax else pax
        if merged:
            name = merged.get(b"path", name)
            linkname = merged.get(b"linkpath", linkname)
        if typeflag == b"S" or merged and any(key.startswith(b"GNU.sparse") for key in merged):
            raise ImportFailed(f"entry {show(name)}: sparse files are not supported")
        kind = _KINDS.get(typeflag)
        if kind == REG and name[-1:] == b"/":
            kind = DIR
        if kind is None:
            if typeflag == b"V":
                pax, long_name, long_link = {}, None, None
                continue
            raise ImportFailed(f"entry {show(name)}: unsupported tar entry type {typeflag!r}")
        if merged:
            entry = _pax_entry(name, kind, mode, uid, gid, size, mtime, linkname, merged)
            pax = {}
        else:
            # Only regular files carry data; other types' size fields are ignored, as tar does.
            entry = Entry(name, kind, mode & 0o7777, uid, gid, size if kind == REG else 0, mtime * 1_000_000_000,
                          linkname)
        long_name = long_link = None
        previous = name
        start = stream.offset
        yield entry
        stream.skip(entry.size - (stream.offset - start) + (-entry.size % BLOCK))


def _pax_entry(name, kind, mode, uid, gid, size, mtime, linkname, merged) -> Entry:
    """An entry whose header fields pax records may override."""
    if b"size" in merged:
        size = _pax_int(merged, b"size")
    return Entry(
        name=name,
        kind=kind,
        mode=mode & 0o7777,
        uid=_pax_int(merged, b"uid") if b"uid" in merged else uid,
        gid=_pax_int(merged, b"gid") if b"gid" in merged else gid,
        size=size if kind == REG else 0,
        mtime_ns=_mtime_ns(merged[b"mtime"]) if b"mtime" in merged else mtime * 1_000_000_000,
        linkname=linkname,
        xattrs=tuple((k[13:], v) for k, v in merged.items() if k.startswith(b"SCHILY.xattr.")),
    )


def clean_path(name: bytes, what: str = "entry") -> bytes:
    """The image-relative form of a tar name; absolute names and `..` are refused."""
    trimmed = name[:-1] if name[-1:] == b"/" and name != b"/" else name
    if _UNCLEAN.search(trimmed) is None:
        return trimmed
    if name.startswith(b"/"):
        raise ImportFailed(f"{what} {show(name)}: absolute paths are not allowed")
    parts = [p for p in name.split(b"/") if p and p != b"."]
    if b".." in parts:
        raise ImportFailed(f"{what} {show(name)}: '..' is not allowed in a path")
    return b"/".join(parts)
