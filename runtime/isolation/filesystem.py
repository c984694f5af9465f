"""The container's filesystem view, built inside its new mount namespace.

Every mount target inside the rootfs is opened by file descriptor, one path
component at a time with O_NOFOLLOW, and the mount goes onto
/proc/self/fd/N. The rootfs belongs to the user (an image can hold any
symlink), and resolving `proc` or `dev/pts` by path would let a symlink
redirect a mount onto the host: runc's 2019 and 2025 CVEs. Everything is
mounted before pivot_root, while the host's /proc is still there to provide
/proc/self/fd.
"""

import os
import stat

from runtime.linux import syscalls as sc

_NOSUID_NODEV_NOEXEC = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
# Every devpts instance but the host's draws from one pool (kernel.pty.max
# less kernel.pty.reserve, 3072 by default): a loop opening /dev/ptmx must
# exhaust its own container's ptys, not every other container's shells.
MAX_PTYS = 64
_DIR = os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC

DEVICES = (  # name, major, minor: what Docker gives every container
    ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7),
    ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0),
)
DEV_LINKS = (
    ("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
)
MASKED_PATHS = (
    "proc/acpi", "proc/asound", "proc/interrupts", "proc/kcore", "proc/keys",
    "proc/latency_stats", "proc/timer_list", "proc/timer_stats", "proc/sched_debug",
    "proc/scsi", "sys/firmware", "sys/devices/virtual/powercap",
)
READONLY_PATHS = ("proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger")
# In the staging tmpfs (see stage): the container's rootfs mount point, the
# files bind-mounted over the rootfs's /etc ones, and the mount point of a
# disk-limited container's layer (runtime.isolation.layerdisk, made at start).
STAGED_ROOT = "root"
STAGED_ETC = "etc"
STAGED_LAYER = "layer"
ETC_FILES = ("hostname", "hosts", "resolv.conf")


def _fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


# Beneath the directory given, and no symlink anywhere on the way, the last
# component included (ELOOP): as a walk with O_NOFOLLOW, in one call.
_RESOLVE_STRICT = sc.RESOLVE_BENEATH | sc.RESOLVE_NO_SYMLINKS


def open_beneath(root_fd: int, relpath: str, *, create_dirs: bool = False, directory: bool = True) -> int:
    """An O_PATH fd for relpath under root_fd, refusing symlinks on the way."""
    flags = os.O_PATH | os.O_CLOEXEC | (os.O_DIRECTORY if directory else 0)
    try:
        return sc.openat2(root_fd, relpath.encode(), flags, _RESOLVE_STRICT)
    except FileNotFoundError:
        if not create_dirs:
            raise
    return _walk_beneath(root_fd, relpath, directory)


def _walk_beneath(root_fd: int, relpath: str, directory: bool) -> int:
    """open_beneath one component at a time, making the directories missing."""
    parts = [p for p in relpath.split("/") if p]
    fd = os.dup(root_fd)
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            flags = _DIR if (directory or not last) else os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                nxt = os.open(part, flags, dir_fd=fd)
            except FileNotFoundError:
                os.mkdir(part, 0o755, dir_fd=fd)
                nxt = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = nxt
        if stat.S_ISLNK(os.fstat(fd).st_mode):
            raise OSError(40, f"open_beneath: {relpath} is a symlink")
        return fd
    except BaseException:
        os.close(fd)
        raise


def _mount_at(root_fd: int, relpath: str, source, fstype, flags: int, data=None, *, create: bool = True) -> None:
    fd = open_beneath(root_fd, relpath, create_dirs=create)
    try:
        sc.mount(source, _fd_path(fd), fstype, flags, data)
    finally:
        os.close(fd)


def _remount_readonly(root_fd: int, relpath: str, flags: int) -> None:
    # Reopen after the bind: an fd taken before it names the mount below.
    fd = open_beneath(root_fd, relpath, directory=False)
    try:
        sc.mount(None, _fd_path(fd), None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | flags)
    finally:
        os.close(fd)


def host_cgroup_v1_mounts() -> list[tuple[str, str, str]]:
    """(directory name, fstype, options) of each hierarchy under /sys/fs/cgroup."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            point, fstype, opts = fields[4], fields[sep + 1], fields[sep + 3]
            if fstype in ("cgroup", "cgroup2") and os.path.dirname(point) == "/sys/fs/cgroup":
                keep = [o for o in opts.split(",") if o not in ("rw", "ro")]
                found.append((os.path.basename(point), fstype, ",".join(keep)))
    return found


def _mount_cgroups(root_fd: int, version: str, v1_mounts: list[tuple[str, str, str]]) -> None:
    """/sys/fs/cgroup read-only; the cgroup namespace makes its root the container's cgroup."""
    flags = _NOSUID_NODEV_NOEXEC | sc.MS_RDONLY
    if version == "v2":
        _mount_at(root_fd, "sys/fs/cgroup", "cgroup2", "cgroup2", flags, create=False)
        return
    _mount_at(root_fd, "sys/fs/cgroup", "tmpfs", "tmpfs", _NOSUID_NODEV_NOEXEC, "mode=755,size=64k", create=False)
    # The tmpfs just mounted holds nothing of the image's: each hierarchy is
    # one mkdir and one open below it, not a walk from the rootfs.
    cgroup_fd = open_beneath(root_fd, "sys/fs/cgroup")
    try:
        for name, fstype, opts in v1_mounts:
            _mount_at(cgroup_fd, name, "cgroup", fstype, flags, opts or None, create=True)
    finally:
        os.close(cgroup_fd)
    _remount_readonly(root_fd, "sys/fs/cgroup", _NOSUID_NODEV_NOEXEC)


def _populate_dev(root_fd: int) -> None:
    dev = open_beneath(root_fd, "dev")
    try:
        for name, major, minor in DEVICES:
            os.mknod(name, 0o666 | stat.S_IFCHR, os.makedev(major, minor), dir_fd=dev)
        for name, target in DEV_LINKS:
            os.symlink(target, name, dir_fd=dev)
        for name in ("pts", "shm", "mqueue"):
            os.mkdir(name, 0o755, dir_fd=dev)
    finally:
        os.close(dev)
    _mount_at(root_fd, "dev/pts", "devpts", "devpts", sc.MS_NOSUID | sc.MS_NOEXEC,
              f"newinstance,ptmxmode=0666,mode=0620,gid=5,max={MAX_PTYS}")
    _mount_at(root_fd, "dev/shm", "shm", "tmpfs", _NOSUID_NODEV_NOEXEC, "mode=1777,size=67108864")
    _mount_at(root_fd, "dev/mqueue", "mqueue", "mqueue", _NOSUID_NODEV_NOEXEC)


def _opened(tops: dict[str, int], paths):
    """(fd, fd of its top, the rest) of each of paths that this kernel has; the caller closes fd."""
    for path in paths:
        top, _, rest = path.partition("/")
        try:
            fd = open_beneath(tops[top], rest, directory=False)
        except FileNotFoundError:
            continue
        yield fd, tops[top], rest


def _mask(root_fd: int) -> None:
    # From the proc and sysfs just mounted: no path in them is the image's to redirect.
    tops = {top: open_beneath(root_fd, top) for top in ("proc", "sys")}
    null = open_beneath(root_fd, "dev/null", directory=False)
    try:
        for fd, _, _ in _opened(tops, MASKED_PATHS):
            try:
                if stat.S_ISDIR(os.fstat(fd).st_mode):
                    sc.mount("tmpfs", _fd_path(fd), "tmpfs", sc.MS_RDONLY | _NOSUID_NODEV_NOEXEC, "size=0")
                else:
                    sc.mount(_fd_path(null), _fd_path(fd), None, sc.MS_BIND)
            finally:
                os.close(fd)
        for fd, top_fd, rest in _opened(tops, READONLY_PATHS):
            try:
                sc.mount(_fd_path(fd), _fd_path(fd), None, sc.MS_BIND | sc.MS_REC)
            finally:
                os.close(fd)
            _remount_readonly(top_fd, rest, _NOSUID_NODEV_NOEXEC)
    finally:
        os.close(null)
        for fd in tops.values():
            os.close(fd)


def make_private() -> None:
    """Stop mount events propagating from the container to the host and back."""
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)


def stage(directory: str, cgroups: tuple[str, list[tuple[str, str, str]]] | None = None) -> str:
    """Mount what every container's /proc, /sys and /dev hold, masks
    included, on a tmpfs at directory, before the container is known: a
    spare's pid 1 does this while it waits for its plan, and `build` then
    moves each tree into the rootfs with one mount call; the rootfs itself
    is mounted on its STAGED_ROOT directory. Needs the pid,
    net and ipc namespaces made (proc, sysfs and mqueue show the mounter's)
    and a private mount namespace (the tmpfs covers directory in it only).
    cgroups, (version, host_cgroup_v1_mounts()), mounts /sys/fs/cgroup too,
    for a process already in its container's cgroup and cgroup namespace.
    Returns directory."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    sc.mount("tmpfs", directory, "tmpfs", _NOSUID_NODEV_NOEXEC, "mode=700,size=16k")
    old_umask = os.umask(0)
    stage_fd = os.open(directory, _DIR)
    try:
        _mount_at(stage_fd, "proc", "proc", "proc", _NOSUID_NODEV_NOEXEC)
        _mount_at(stage_fd, "sys", "sysfs", "sysfs", _NOSUID_NODEV_NOEXEC | sc.MS_RDONLY)
        if cgroups is not None:
            _mount_cgroups(stage_fd, *cgroups)
        _mount_at(stage_fd, "dev", "tmpfs", "tmpfs", sc.MS_NOSUID | sc.MS_STRICTATIME, "mode=755,size=65536k")
        _populate_dev(stage_fd)
        _mask(stage_fd)
        os.mkdir(STAGED_ROOT, 0o755, dir_fd=stage_fd)
        os.mkdir(STAGED_ETC, 0o755, dir_fd=stage_fd)
    finally:
        os.close(stage_fd)
        os.umask(old_umask)
    return directory


def build(rootfs: str, staged: str, cgroups: tuple[str, list[tuple[str, str, str]]] | None) -> None:
    """Move the staged /proc, /sys and /dev into rootfs, bind the staged /etc
    files (see write_etc), mount /sys/fs/cgroup, then pivot_root into rootfs.

    rootfs must already be a mount point (the overlay) in a private mount
    namespace; staged is what `stage` returned, in the same namespace.
    cgroups, (version, host_cgroup_v1_mounts() read beforehand), mounts
    /sys/fs/cgroup unless `stage` did; the cgroup namespace must be made
    first, since the cgroup mounts show its root. Afterwards the host's
    mounts are unreachable and cwd is /.
    """
    old_umask = os.umask(0)
    root_fd = os.open(rootfs, _DIR)
    try:
        for name in ("proc", "sys", "dev"):
            # A move takes the tree's submounts along: the masks, devpts, shm, mqueue.
            _mount_at(root_fd, name, f"{staged}/{name}", None, sc.MS_MOVE)
        _bind_etc(root_fd, staged)
        if cgroups is not None:
            _mount_cgroups(root_fd, *cgroups)
        os.fchdir(root_fd)
    finally:
        os.close(root_fd)
        os.umask(old_umask)
    sc.pivot_root(".", ".")
    # The old root now sits on top of "."; private first so the detach
    # does not propagate an unmount back to the host.
    sc.mount(None, ".", None, sc.MS_REC | sc.MS_PRIVATE)
    sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")




def give_to(staged: str, uid_base: int) -> None:
    """What pid 1 made in the staging tmpfs (/dev and its nodes, shm and
    mqueue, the /etc files) owned by the container's root, uid_base on the
    host, instead of the host's root, whom the container's user namespace
    does not map: its root could not write /dev/shm or its /etc files.
    New ptys get the container's tty group (5)."""
    dev = f"{staged}/dev"
    os.chown(dev, uid_base, uid_base)
    for name in (*(d[0] for d in DEVICES), *(link[0] for link in DEV_LINKS), "pts", "pts/ptmx", "shm", "mqueue"):
        os.chown(f"{dev}/{name}", uid_base, uid_base, follow_symlinks=False)
    for name in ETC_FILES:
        os.chown(f"{staged}/{STAGED_ETC}/{name}", uid_base, uid_base)
    sc.mount(None, f"{dev}/pts", None, sc.MS_REMOUNT | sc.MS_NOSUID | sc.MS_NOEXEC,
             f"ptmxmode=0666,mode=0620,gid={uid_base + 5},max={MAX_PTYS}")


def write_etc(staged: str, hostname: str, nameservers: list[str]) -> None:
    """/etc/hostname, /etc/hosts and /etc/resolv.conf, written into the
    staging tmpfs (see stage) for `build` to bind-mount into the rootfs, as
    Docker does: the container may edit them, and gets them anew at each
    start; nothing is written into its layer."""
    contents = {
        "hostname": f"{hostname}\n",
        "hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n",
        "resolv.conf": "".join(f"nameserver {s}\n" for s in nameservers),
    }
    for name, data in contents.items():
        fd = os.open(f"{staged}/{STAGED_ETC}/{name}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)


def _bind_etc(root_fd: int, staged: str) -> None:
    # The init layer has the three files (see overlay.INIT_FILES); a layer
    # that deleted one gets an empty file made anew in its place.
    etc = open_beneath(root_fd, "etc")
    try:
        for name in ETC_FILES:
            try:
                target = open_beneath(etc, name, directory=False)
            except FileNotFoundError:
                os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=etc))
                target = open_beneath(etc, name, directory=False)
            try:
                sc.mount(f"{staged}/{STAGED_ETC}/{name}", _fd_path(target), None, sc.MS_BIND)
            finally:
                os.close(target)
    finally:
        os.close(etc)
