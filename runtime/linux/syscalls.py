"""ctypes wrappers for the Linux calls Python 3.11 does not expose.

Each wrapper raises ``OSError(errno, "<call>: <detail>")`` so a failure
names the call that failed, not just the errno.
"""

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_STRICTATIME = 1 << 24

MNT_DETACH = 0x2

RENAME_EXCHANGE = 2
AT_FDCWD = -100

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _check(result: int, call: str, detail: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{call}: {detail}: {os.strerror(err)}")
    return result


def _bytes(value) -> bytes | None:
    if value is None:
        return None
    return os.fsencode(value)


# Looked up and typed here, at import in the parent: a libc function looked
# up for the first time in a forked child costs a dlsym, and the pages its
# Python objects touch are copied; ints then pass without c_int wrappers.
_libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
for _call in (_libc.renameat2, _libc.unshare, _libc.setns, _libc.mount, _libc.umount2):
    _call.restype = ctypes.c_int


def rename_exchange(a, b) -> None:
    """Swap two existing names atomically (renameat2 RENAME_EXCHANGE)."""
    _check(_libc.renameat2(AT_FDCWD, _bytes(a), AT_FDCWD, _bytes(b), RENAME_EXCHANGE),
           "renameat2", f"{os.fspath(a)} <-> {os.fspath(b)}")


def write_all(fd: int, data) -> None:
    """Write all of data (bytes or a buffer): a write to a pipe or a file may take only part."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare", hex(flags))


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(fd, nstype), "setns", f"fd {fd}")


def mount(source, target, fstype=None, flags: int = 0, data=None) -> None:
    result = _libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data))
    _check(result, "mount", f"{fstype or source} on {target}")


def umount2(target, flags: int = 0) -> None:
    _check(_libc.umount2(_bytes(target), flags), "umount2", str(target))


def pivot_root(new_root, put_old) -> None:
    # glibc has no wrapper for pivot_root; 155 is its number on x86_64.
    _check(_libc.syscall(ctypes.c_long(155), _bytes(new_root), _bytes(put_old)), "pivot_root", str(new_root))


# signals


class _KernelSigaction(ctypes.Structure):
    # The kernel's struct sigaction for rt_sigaction on x86_64, not glibc's.
    _fields_ = [("handler", ctypes.c_ulong), ("flags", ctypes.c_ulong), ("restorer", ctypes.c_ulong),
                ("mask", ctypes.c_uint64)]


_SIG_DFL_ACTION = _KernelSigaction(0, 0, 0, 0)


def default_signal(sig: int) -> None:
    """Give sig its default disposition, with rt_sigaction itself: glibc's
    sigaction refuses the two real-time signals it keeps for itself (32
    and 33), which a process can still have inherited ignored."""
    # glibc has no wrapper that takes these; 13 is rt_sigaction's number on x86_64, 8 the kernel's sigset size.
    _check(_libc.syscall(ctypes.c_long(13), ctypes.c_int(sig), ctypes.byref(_SIG_DFL_ACTION), None,
                         ctypes.c_size_t(8)), "rt_sigaction", f"signal {sig}")


# capabilities and seccomp

PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.prctl.restype = ctypes.c_int


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


# Made here, at import in the parent: creating a ctypes type or looking up a
# libc symbol for the first time in a freshly forked child costs ~0.1 ms each.
_CapDataPair = _CapData * 2
for _cap_call in (_libc.capget, _libc.capset):
    _cap_call.argtypes = [ctypes.POINTER(_CapHeader), _CapDataPair]
    _cap_call.restype = ctypes.c_int


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), "prctl", f"option {option}")


# What /proc/<pid>/cmdline and environ read: the process's argument and
# environment areas, which it may point elsewhere.
PR_SET_MM = 35
PR_SET_MM_MAP = 14
SYS_BRK = 12


class _MmMap(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "start_code", "end_code", "start_data", "end_data", "start_brk", "brk", "start_stack",
        "arg_start", "arg_end", "env_start", "env_end")] + [
        ("auxv", ctypes.c_void_p), ("auxv_size", ctypes.c_uint32), ("exe_fd", ctypes.c_uint32)]


def set_arg_area(area: ctypes.Array) -> None:
    """Make /proc/self/cmdline read `area` (NUL-terminated, kept alive by the
    caller) and /proc/self/environ nothing. PR_SET_MM_ARG_START and the like
    need CAP_SYS_RESOURCE, which a host may withhold even from root;
    PR_SET_MM_MAP without an exe_fd needs no capability, but sets every
    bound at once: the others are written back as they are, from
    /proc/self/stat and brk(0)."""
    fd = os.open("/proc/self/stat", os.O_RDONLY | os.O_CLOEXEC)
    try:
        stat = os.read(fd, 4096)
    finally:
        os.close(fd)
    # From field 3 on (the name, field 2, may hold spaces and parentheses).
    fields = stat[stat.rindex(b")") + 2:].split()
    start = ctypes.addressof(area)
    end = start + ctypes.sizeof(area)
    brk = _check(_libc.syscall(ctypes.c_long(SYS_BRK), ctypes.c_ulong(0)), "brk", "0")
    layout = _MmMap(*(int(fields[field - 3]) for field in (26, 27, 45, 46, 47)), brk, int(fields[28 - 3]),
                    start, end, end, end, None, 0, 0xFFFFFFFF)
    _check(_libc.prctl(PR_SET_MM, PR_SET_MM_MAP, ctypes.addressof(layout), ctypes.sizeof(layout), 0),
           "prctl", "PR_SET_MM_MAP")


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of pid (0: the calling thread) as 64-bit masks."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = _CapDataPair()
    _check(_libc.capget(ctypes.byref(header), data), "capget", f"pid {pid}")
    return tuple(getattr(data[0], f) | getattr(data[1], f) << 32 for f in ("effective", "permitted", "inheritable"))


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set the calling thread's three sets; version 3 takes each mask as two 32-bit words."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = _CapDataPair()
    for word in (0, 1):
        shift = 32 * word
        data[word].effective = (effective >> shift) & 0xFFFFFFFF
        data[word].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[word].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.capset(ctypes.byref(header), data), "capset", f"effective {effective:#x}")


# path resolution for image extraction

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc.syscall.restype = ctypes.c_long


def openat2(dir_fd: int, path: bytes, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2): the kernel resolves path under dir_fd with the `resolve` restrictions."""
    how = _OpenHow(flags, mode, resolve)
    # glibc has no wrapper for openat2; 437 is its number on x86_64.
    fd = _libc.syscall(ctypes.c_long(437), ctypes.c_int(dir_fd), ctypes.c_char_p(path),
                       ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    return _check(fd, "openat2", os.fsdecode(path))


# mounts, continued

OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC


def open_tree(path, flags: int) -> int:
    """open_tree(2) from the current directory; with OPEN_TREE_CLONE, a
    detached copy of the mount at path that lives as long as the fd."""
    # glibc 2.36 has a wrapper, Debian 12's does not; 428 is its number on x86_64.
    fd = _libc.syscall(ctypes.c_long(428), ctypes.c_int(AT_FDCWD), _bytes(path), ctypes.c_uint(flags))
    return _check(fd, "open_tree", str(path))


# cgroups


def bpf(cmd: int, attr: ctypes.Structure) -> int:
    # glibc has no wrapper for bpf; 321 is its number on x86_64.
    result = _libc.syscall(ctypes.c_long(321), ctypes.c_int(cmd), ctypes.byref(attr), ctypes.c_uint(ctypes.sizeof(attr)))
    return _check(result, "bpf", f"command {cmd}")



# loop devices

LOOP_CTL_GET_FREE = 0x4C82
LOOP_CONFIGURE = 0x4C0A
LO_FLAGS_AUTOCLEAR = 4


class _LoopInfo64(ctypes.Structure):
    _fields_ = [("device", ctypes.c_uint64), ("inode", ctypes.c_uint64), ("rdevice", ctypes.c_uint64),
                ("offset", ctypes.c_uint64), ("sizelimit", ctypes.c_uint64), ("number", ctypes.c_uint32),
                ("encrypt_type", ctypes.c_uint32), ("encrypt_key_size", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("file_name", ctypes.c_char * 64), ("crypt_name", ctypes.c_char * 64),
                ("encrypt_key", ctypes.c_char * 32), ("init", ctypes.c_uint64 * 2)]


class _LoopConfig(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_uint32), ("block_size", ctypes.c_uint32), ("info", _LoopInfo64),
                ("reserved", ctypes.c_uint64 * 8)]


# Typed here, at import in the parent: pid 1 of a spare attaches the loop device.
_libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
_libc.ioctl.restype = ctypes.c_int


def loop_get_free(control_fd: int) -> int:
    """The number of a free loop device (LOOP_CTL_GET_FREE on /dev/loop-control)."""
    return _check(_libc.ioctl(control_fd, LOOP_CTL_GET_FREE, None), "ioctl", "LOOP_CTL_GET_FREE")


def loop_configure(loop_fd: int, file_fd: int, flags: int) -> None:
    """Back the loop device with file_fd in one call (LOOP_CONFIGURE, Linux 5.8)."""
    config = _LoopConfig(fd=file_fd)
    config.info.flags = flags
    _check(_libc.ioctl(loop_fd, LOOP_CONFIGURE, ctypes.byref(config)), "ioctl", "LOOP_CONFIGURE")


# the new mount API: a filesystem mounted outside any mount namespace, then moved in

FSOPEN_CLOEXEC = 0x1
FSMOUNT_CLOEXEC = 0x1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
MOVE_MOUNT_F_EMPTY_PATH = 0x4


def fsopen(fstype: str, flags: int = FSOPEN_CLOEXEC) -> int:
    # glibc 2.36 has wrappers for these, Debian 12's does not; 430-432 and 429 are their numbers on x86_64.
    return _check(_libc.syscall(ctypes.c_long(430), _bytes(fstype), ctypes.c_uint(flags)), "fsopen", fstype)


def fsconfig(fs_fd: int, cmd: int, key: str | None = None, value: str | None = None) -> None:
    result = _libc.syscall(ctypes.c_long(431), ctypes.c_int(fs_fd), ctypes.c_uint(cmd), _bytes(key), _bytes(value),
                           ctypes.c_int(0))
    _check(result, "fsconfig", f"{key}={value}" if key else f"command {cmd}")


def fsmount(fs_fd: int, flags: int = FSMOUNT_CLOEXEC, attr_flags: int = 0) -> int:
    """A detached mount of the filesystem fs_fd configured: it lives as long as the fd, unless moved."""
    return _check(_libc.syscall(ctypes.c_long(432), ctypes.c_int(fs_fd), ctypes.c_uint(flags),
                                ctypes.c_uint(attr_flags)), "fsmount", f"fd {fs_fd}")


def move_mount_fd(mount_fd: int, target) -> None:
    """Attach the detached mount mount_fd at target, in this process's mount namespace."""
    result = _libc.syscall(ctypes.c_long(429), ctypes.c_int(mount_fd), b"", ctypes.c_int(AT_FDCWD), _bytes(target),
                           ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH))
    _check(result, "move_mount", str(target))


# idmapped mounts

MOUNT_ATTR_IDMAP = 0x00100000
AT_EMPTY_PATH = 0x1000


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def idmap_mount(mount_fd: int, userns_fd: int) -> None:
    """mount_setattr(MOUNT_ATTR_IDMAP): the detached mount mount_fd shows its
    files' owners through the id map of the user namespace userns_fd."""
    attr = _MountAttr(MOUNT_ATTR_IDMAP, 0, 0, userns_fd)
    # glibc has no wrapper before 2.36; 442 is its number on x86_64.
    result = _libc.syscall(ctypes.c_long(442), ctypes.c_int(mount_fd), b"", ctypes.c_uint(AT_EMPTY_PATH),
                           ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
    _check(result, "mount_setattr", f"idmap fd {mount_fd}")


def close_all_except(*keep: int) -> None:
    """Close every descriptor from 3 up but those in keep: nothing of the
    launcher (a worker's sockets, a CLI's pipes) must reach a container or
    stay held by a long-lived shim."""
    low = 3
    for fd in sorted(k for k in set(keep) if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)
