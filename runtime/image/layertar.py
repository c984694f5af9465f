"""An image layer directory of the store as an OCI layer tar, streamed.

A layer in the store is unpacked: an imported image's rootfs, or a
committed image's own layer in overlay form. Overlay whiteouts (0/0
character devices) become `.wh.<name>` entries and an opaque directory
(trusted.overlay.opaque = y) a `.wh..wh..opq` entry inside it, as the OCI
image spec writes them. The output is the same bytes for the same tree
(names sorted, no user or group names, whole-second mtimes), so a layer's
digest can be taken in one pass and its bytes written in another.
"""

import errno
import hashlib
import os
import stat
import tarfile

from runtime.linux import treeops

BLOCK = 512
CHUNK = 1 << 20
OPAQUE_XATTR = "trusted.overlay.opaque"
# Overlay's own bookkeeping (origin, impure, ...) means nothing in another tree.
PRIVATE_XATTRS = "trusted.overlay."


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _xattrs(fd: int) -> dict[str, bytes]:
    try:
        names = os.listxattr(fd)
    except OSError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            return {}
        raise
    return {name: os.getxattr(fd, name) for name in sorted(names) if not name.startswith(PRIVATE_XATTRS)}


def _info(name: str, st: os.stat_result, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = st.st_mtime_ns // 1_000_000_000
    return info


def _header(info: tarfile.TarInfo, xattrs: dict[str, bytes] | None = None) -> bytes:
    if xattrs:
        info.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in xattrs.items()}
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _empty_file(name: str, st: os.stat_result) -> bytes:
    info = _info(name, st, tarfile.REGTYPE)
    info.mode, info.uid, info.gid = 0o600, 0, 0
    return _header(info)


def entries(root_fd: int, data: bool = True):
    """The layer tar of the directory root_fd, in chunks. With data=False,
    regular files' contents are not read but stood for by their lengths
    (ints), for measuring the tar without reading it."""
    links: dict[tuple[int, int], str] = {}
    root = os.fstat(root_fd)
    yield _header(_info("./", root, tarfile.DIRTYPE), _xattrs(root_fd))
    if _has(root_fd, OPAQUE_XATTR):
        yield _empty_file(".wh..wh..opq", root)
    yield from _walk(root_fd, "", links, data)
    yield bytes(2 * BLOCK)


def _has(fd: int, name: str) -> bool:
    try:
        return os.getxattr(fd, name) == b"y"
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.EOPNOTSUPP):
            return False
        raise


def _walk(dir_fd: int, prefix: str, links: dict, data: bool):
    for raw in sorted(os.listdir(dir_fd), key=os.fsencode):
        name = prefix + raw
        st = os.lstat(raw, dir_fd=dir_fd)
        mode = st.st_mode
        if is_whiteout(st):
            yield _empty_file(f"{prefix}.wh.{raw}", st)
        elif stat.S_ISDIR(mode):
            fd = treeops.open_dir(dir_fd, os.fsencode(raw))
            try:
                yield _header(_info(name + "/", st, tarfile.DIRTYPE), _xattrs(fd))
                if _has(fd, OPAQUE_XATTR):
                    yield _empty_file(f"{name}/.wh..wh..opq", st)
                yield from _walk(fd, name + "/", links, data)
            finally:
                os.close(fd)
        elif stat.S_ISLNK(mode):
            info = _info(name, st, tarfile.SYMTYPE)
            info.linkname = os.fsdecode(os.readlink(raw, dir_fd=dir_fd))
            yield _header(info)
        elif stat.S_ISREG(mode):
            first = links.get((st.st_dev, st.st_ino)) if st.st_nlink > 1 else None
            if first is not None:
                info = _info(name, st, tarfile.LNKTYPE)
                info.linkname = first
                yield _header(info)
                continue
            if st.st_nlink > 1:
                links[(st.st_dev, st.st_ino)] = name
            yield from _file(dir_fd, raw, name, st, data)
        elif stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            kind = tarfile.FIFOTYPE if stat.S_ISFIFO(mode) else tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            info = _info(name, st, kind)
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            yield _header(info)


def _file(dir_fd: int, raw: str, name: str, st: os.stat_result, data: bool):
    fd = os.open(raw, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        info = _info(name, st, tarfile.REGTYPE)
        info.size = st.st_size
        yield _header(info, _xattrs(fd))
        if not data:
            yield st.st_size + (-st.st_size % BLOCK)
            return
        left = st.st_size
        while left:
            chunk = os.read(fd, min(CHUNK, left))
            if not chunk:
                raise OSError(errno.EIO, f"{name} shrank while it was read")
            left -= len(chunk)
            yield chunk
        yield bytes(-st.st_size % BLOCK)
    finally:
        os.close(fd)


def measure(root_fd: int) -> int:
    """The length of the layer tar, from the tree's metadata alone."""
    return sum(len(part) if isinstance(part, bytes) else part for part in entries(root_fd, data=False))


def digest(root_fd: int) -> tuple[str, int]:
    """(sha256 hex, length) of the layer tar."""
    h, size = hashlib.sha256(), 0
    for chunk in entries(root_fd):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size
