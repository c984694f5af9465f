"""The container's pid 1 from fork to execve.

`container_init` runs in the child the shim forks after unshare(CLONE_NEWPID),
so the child is already pid 1 of the new pid namespace. It never returns:
it execs the command, or reports why it could not on the error pipe and
exits 127. The error pipe is close-on-exec, so a successful execve shows as
end-of-file to whoever reads it; no other signal of success is needed.
"""

import os
import signal
import socket
# os.execvpe imports warnings when called: here, after pivot_root, the host's modules are out of reach.
import warnings  # noqa: F401

from runtime import capabilities, fds, loopback, mounts, overlay, seccomp, terminal
from runtime import syscalls as sc
from runtime.records import Record

START_FAILED = 127
UNSHARE_FLAGS = sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWNET


class InitPlan(Record):
    """Everything pid 1 needs, computed by the launcher before it forks."""

    __slots__ = ("lower", "upper", "work", "rootfs", "hostname", "argv", "env", "workdir", "uid", "gid", "tty",
                 "cgroup_version", "cgroup_files", "nameservers")

    def __init__(self, lower: str, upper: str, work: str, rootfs: str, hostname: str, argv: list[str],
                 env: dict[str, str], workdir: str, uid: int | None, gid: int | None, tty: bool,
                 cgroup_version: str, cgroup_files: list[str] | None = None, nameservers: list[str] | None = None):
        self.lower = lower
        self.upper = upper
        self.work = work
        self.rootfs = rootfs
        self.hostname = hostname
        self.argv = argv
        self.env = env
        self.workdir = workdir
        self.uid = uid
        self.gid = gid
        self.tty = tty
        self.cgroup_version = cgroup_version
        self.cgroup_files = [] if cgroup_files is None else cgroup_files
        self.nameservers = [] if nameservers is None else nameservers


def exec_command(argv: list[str], env: dict[str, str]) -> None:
    """execvpe, with the failure a user can act on as the message."""
    try:
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError:
        raise OSError(2, f"executable file not found in $PATH: {argv[0]}") from None
    except PermissionError:
        raise OSError(13, f"permission denied: {argv[0]}") from None


def reset_signals() -> None:
    """Give the command default signal handling and an empty mask.

    Ignored dispositions survive execve, and the shim ignores SIGTERM, SIGINT,
    SIGHUP and SIGQUIT (Python itself ignores SIGPIPE and SIGXFSZ): without
    this, `sh` could not trap SIGTERM and `yes | head -1` would never end.
    """
    for sig in signal.valid_signals():
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def join_cgroup(files: list[str]) -> None:
    """Move the calling single-threaded process into a cgroup by writing 0
    into each of the driver's `join_files`."""
    for path in files:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise OSError(2, f"cannot join the container's cgroup: {path} is gone") from None
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)


def container_init(plan: InitPlan, error_fd: int, stdio: tuple[int, int, int], pty_sock) -> None:
    """The ordered steps of a container start. stdio is (stdin, stdout, stderr)
    for the command, unless plan.tty, in which case a PTY from the container's
    devpts replaces them and its master goes to the shim over pty_sock."""
    try:
        # First, while the host's /sys/fs/cgroup is still visible, and so
        # that the cgroup namespace made below has this cgroup as its root.
        join_cgroup(plan.cgroup_files)
        sc.unshare(UNSHARE_FLAGS | sc.CLONE_NEWCGROUP)
        mounts.make_private()
        overlay.mount_overlay(plan.lower, plan.upper, plan.work, plan.rootfs)
        socket.sethostname(plan.hostname)
        loopback.bring_up()
        mounts.build(plan.rootfs, plan.cgroup_version)
        mounts.write_etc(plan.hostname, plan.nameservers)
        os.makedirs(plan.workdir, exist_ok=True)
        os.chdir(plan.workdir)
        if plan.tty:
            master, slave = terminal.open_pair()
            socket.send_fds(pty_sock, [b"m"], [master])
            os.close(master)
            terminal.make_controlling(slave)
        else:
            os.setsid()
            for target, fd in enumerate(stdio):
                os.dup2(fd, target, inheritable=True)
        fds.close_all_except(error_fd)
        capabilities.apply_default(uid=plan.uid, gid=plan.gid)
        seccomp.apply_default_profile()
        reset_signals()
        exec_command(plan.argv, plan.env)
    except BaseException as exc:  # noqa: BLE001 - pid 1 must report, never unwind into the shim's code
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
        try:
            os.write(error_fd, message.encode(errors="replace")[:4000])
        finally:
            os._exit(START_FAILED)

