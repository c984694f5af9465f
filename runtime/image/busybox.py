"""A small root filesystem made from Debian's busybox-static.

It is the standard test image, the demo image that `make run` imports, and
the bundle the launch benchmark gives crun and runc.
"""

import io
import os
import tarfile
from pathlib import Path

BUSYBOX = "/bin/busybox"
DIRS = ("bin", "dev", "etc", "home", "proc", "root", "run", "sys", "tmp", "usr/bin", "var/log")


def _applets(busybox: str) -> list[str]:
    import subprocess

    out = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout
    return [a for a in out.split() if a and a != "busybox"]


def _add(tar: tarfile.TarFile, name: str, *, kind=tarfile.REGTYPE, mode=0o644, data=b"", link=""):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, 0, 0, 0
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def write_tarball(dest: str | os.PathLike, busybox: str = BUSYBOX) -> Path:
    """Write a flat rootfs tarball (the shape of `docker export` output)."""
    dest = Path(dest)
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in DIRS:
            _add(tar, d, kind=tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755)
        _add(tar, "bin/busybox", mode=0o755, data=Path(busybox).read_bytes())
        for applet in _applets(busybox):
            _add(tar, f"bin/{applet}", kind=tarfile.SYMTYPE, mode=0o777, link="/bin/busybox")
        _add(tar, "etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        _add(tar, "etc/group", data=b"root:x:0:\nnogroup:x:65534:\n")
    return dest
