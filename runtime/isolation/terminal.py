"""Pseudo-terminals opened from a container's own devpts instance.

The master is opened through /dev/pts/ptmx of the mount namespace the
caller is in, so inside a container the slave is /dev/pts/N of the
container's devpts and `tty` prints that, not a host path.
"""

import fcntl
import os
import struct

TIOCSCTTY = 0x540E
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCSWINSZ = 0x5414
TIOCGWINSZ = 0x5413


def open_pair(rows: int = 24, cols: int = 80) -> tuple[int, int]:
    """(master, slave) from /dev/pts/ptmx, both close-on-exec."""
    master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))[0]
        slave = os.open(f"/dev/pts/{number}", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except BaseException:
        os.close(master)
        raise
    resize(master, rows, cols)
    return master, slave


def resize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def size(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def make_controlling(slave: int) -> None:
    """New session with slave as its controlling terminal and stdio."""
    os.setsid()
    fcntl.ioctl(slave, TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target, inheritable=True)
