"""A container's user namespace: made ahead, mapped at start, joined last.

pid 1 stays host root until just before its execve: the mounts it makes
(/proc, /sys, /dev, the overlay, pivot_root) and the idmapped mounts of the
image need the host's capabilities, and its mount namespace is the host's
user namespace's. The namespaces whose capabilities container root must
hold (net, for ports below 1024 and raw sockets; uts; ipc) belong to the
container's user namespace instead: a child of pid 1, the holder, makes the
user namespace and those three in it, pid 1 joins the three, and the holder
waits until pid 1 has written the id map, which a spare's pid 1 can only do
once it knows its container. Then the holder leaves, and pid 1 joins the
user namespace last, as root of the container's range (`join`).

With `--userns=host` the same namespaces are made, the map is never
written, and pid 1 never joins: host root holds every capability in a
user namespace its own namespace owns.
"""

import errno
import os

from runtime.errors import NotPermitted
from runtime.id_ranges import SIZE
from runtime.isolation import capabilities
from runtime.linux import syscalls as sc

OWNED = ("net", "uts", "ipc")
# Why each state root (by path and device) cannot be idmapped, or None: one
# probe per root and process. A root found fit is also marked in its cache/,
# so a CLI's start, a new process each time, costs one stat.
_unfit: dict[tuple[str, int], str | None] = {}


class Ahead:
    """A user namespace with net, uts and ipc namespaces of its own, made
    by a holder child; the calling process joins the three at once."""

    def __init__(self):
        self._pid, self._hold_w, host_pid = _fork_holder(sc.CLONE_NEWNET | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC)
        proc = f"/proc/{host_pid}"
        self.user = os.open(f"{proc}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        # Opened now: the holder is gone by the time the container is known.
        self._maps = [os.open(f"{proc}/{name}", os.O_WRONLY | os.O_CLOEXEC) for name in ("uid_map", "gid_map")]
        for kind in OWNED:
            fd = os.open(f"{proc}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                sc.setns(fd)
            finally:
                os.close(fd)

    def map_to(self, uid_base: int) -> None:
        """Container ids 0..65535 are host ids uid_base.. (uids and gids alike)."""
        line = f"0 {uid_base} {SIZE}\n".encode()
        for fd in self._maps:
            os.write(fd, line)

    def release(self) -> None:
        """The holder leaves; the namespace lives on in what belongs to it."""
        for fd in self._maps:
            os.close(fd)
        os.close(self._hold_w)
        os.waitpid(self._pid, 0)


def join(userns_fd: int) -> None:
    """Enter the container's user namespace as its root. Joining gives a
    full bounding set in it, so the runtime's is dropped again here."""
    sc.setns(userns_fd, sc.CLONE_NEWUSER)
    os.setgroups([])
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    capabilities.drop_bounding()


def idmapped(path: str, userns_fd: int, target: str) -> None:
    """Mount a copy of path at target, its owners shown through the map of
    userns_fd: the image's files are not copied or chowned."""
    fd = sc.open_tree(path, sc.OPEN_TREE_CLONE | sc.OPEN_TREE_CLOEXEC)
    try:
        try:
            sc.idmap_mount(fd, userns_fd)
        except OSError as exc:
            raise OSError(exc.errno, f"idmapped mounts are not supported for {path} on this kernel or filesystem "
                                     f"({os.strerror(exc.errno)}; Linux 5.19 or later, 6.3 for tmpfs): "
                                     f"use --userns=host") from None
        os.makedirs(target, mode=0o700, exist_ok=True)
        sc.move_mount_fd(fd, target)
    finally:
        os.close(fd)


def require_idmap(root: str) -> None:
    """Refuse --userns=auto at once, with the way out, when the state root's
    filesystem cannot be idmapped, rather than in pid 1 halfway through a start."""
    dev = os.stat(root).st_dev
    key = (root, dev)
    if key not in _unfit:
        marker = f"{root}/cache/idmap-{dev}-{os.uname().release}"
        if os.path.exists(marker):
            _unfit[key] = None
        else:
            _unfit[key] = probe_idmap(root)
            if _unfit[key] is None:
                os.makedirs(f"{root}/cache", mode=0o700, exist_ok=True)
                os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    if _unfit[key] is not None:
        raise NotPermitted(f"--userns=auto shows the image through idmapped mounts, but {_unfit[key]}: "
                           f"run with --userns=host, or move the state root to ext4, xfs or btrfs")


def probe_idmap(path: str) -> str | None:
    """None if the filesystem holding path takes an idmapped mount here; else why not."""
    try:
        user_fd = _scratch_userns()
    except OSError as exc:
        return f"no user namespace can be made here ({os.strerror(exc.errno)}; see sysctl user.max_user_namespaces)"
    try:
        fd = sc.open_tree(path, sc.OPEN_TREE_CLONE | sc.OPEN_TREE_CLOEXEC)
        try:
            sc.idmap_mount(fd, user_fd)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno == errno.ENOSYS:
            return "this kernel has no open_tree or mount_setattr (Linux 5.12 or later)"
        return (f"the state root {path} is on {_fstype(path)}, which this kernel cannot idmap "
                f"({os.strerror(exc.errno)}; tmpfs can from Linux 6.3)")
    finally:
        os.close(user_fd)
    return None


def _fork_holder(more: int = 0) -> tuple[int, int, int]:
    """(pid, hold_w, host pid) of a child in a new user namespace (and the
    namespaces `more` names), which stays until hold_w is closed; OSError
    with the child's errno if it could not make them."""
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    hold_r, hold_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            # First of all: a launcher's threads fork holders side by side,
            # and a holder that kept a copy of another's hold pipe would wait
            # for that one's end while it waits for this one's.
            sc.close_all_except(ready_w, hold_r)
            try:
                sc.unshare(sc.CLONE_NEWUSER)
                if more:
                    sc.unshare(more)
                # Its pid in the host's /proc, which this mount namespace still
                # shows: fork gave the caller its pid in the container's.
                os.write(ready_w, os.readlink("/proc/self").encode())
            except OSError as exc:
                os.write(ready_w, f"e{exc.errno}".encode())
            os.read(hold_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(hold_r)
    try:
        answer = os.read(ready_r, 32)
    finally:
        os.close(ready_r)
    if not answer.isdigit():
        os.close(hold_w)
        os.waitpid(pid, 0)
        code = answer[1:]
        raise OSError(int(code) if code.isdigit() else errno.ECHILD, "unshare(CLONE_NEWUSER)")
    return pid, hold_w, int(answer)


def _scratch_userns() -> int:
    """A user namespace mapping root to nobody, made by a child that leaves once it is mapped."""
    pid, hold_w, host_pid = _fork_holder()
    try:
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{host_pid}/{name}", "w") as f:
                f.write("0 65534 1\n")
        return os.open(f"/proc/{host_pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(hold_w)
        os.waitpid(pid, 0)


def _fstype(path: str) -> str:
    st = os.stat(path)
    wanted = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[2] == wanted:
                return fields[fields.index("-") + 1]
    return "a filesystem"
