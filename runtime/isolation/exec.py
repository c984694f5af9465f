"""Run another process inside a running container.

setns() into a mount namespace is refused to a multi-threaded process, and
the worker and agent that call this have threads, so the work happens in a
forked helper, which has just one. The helper joins the container's cgroup
and namespaces; a pid namespace only applies to children, so the helper
forks the process that execs. That process opens its PTY from the
container's devpts (so `tty` inside prints /dev/pts/N), takes the same
seccomp filter, no_new_privs and capabilities as the container's pid 1, in
that order, and the helper stays as its parent to turn its exit status into
our exit code.

The child is in the container's pid namespace before its execve, holding
the caller's memory: it is non-dumpable (no ptrace, no /proc/<pid>/environ,
mem or maps, no process_vm_readv for the container's processes, which lack
CAP_SYS_PTRACE), its catchable signals are blocked until just before the
execve, and one stopped before the execve (SIGSTOP cannot be blocked) is
killed and reported instead of holding its caller. What /proc shows
anyone, its cmdline, comm, stat and status, names it `terrarium-exec`,
not its caller's command line. The program's environment is only `env`,
as the caller built it.

A lab's check (runtime.isolation.check) has a cgroup of its own instead of
the container's, which its process joins before anything else while the
helper stays out of it, and its stdout and stderr on one pipe, so that
their lines keep the order they were written in.

The helper reports on a socketpair: `ok <host pid>` (with the PTY master
attached by SCM_RIGHTS) or `error <message>`.
"""

import _signal
import ctypes
import os
import select
import signal
import socket
import time

from runtime.errors import Conflict, TerrariumError
from runtime.isolation import seccomp, terminal, userns
from runtime.isolation.container_init import exec_command, join_cgroup, reset_signals, take_container_credentials
from runtime.linux import procinfo
from runtime.linux import syscalls as sc

NAMESPACES = ("ipc", "uts", "net", "pid", "cgroup", "mnt")
# From fork to execve takes the child milliseconds; these bound a child that
# was stopped or hangs (see _await_exec).
START_TIMEOUT = 10
POLL_MS = 50
# What the helper and its child show in /proc as their name and command
# line, instead of their caller's (see _helper).
NAME = "terrarium-exec"
_COMMAND_LINE = ctypes.create_string_buffer(NAME.encode())


class ExecSession:
    """A process running inside a container. With a PTY, fd is its master;
    otherwise stdin, stdout and stderr are pipes."""

    def __init__(self, helper: int, pid: int, fd=None, stdin=None, stdout=None, stderr=None):
        self.helper, self.pid = helper, pid
        self.fd, self.stdin, self.stdout, self.stderr = fd, stdin, stdout, stderr
        self.returncode = None

    def resize(self, rows: int, cols: int) -> None:
        if self.fd is None:
            raise Conflict("this exec session has no terminal to resize")
        terminal.resize(self.fd, rows, cols)

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.helper, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        for fd in (self.fd, self.stdin, self.stdout, self.stderr):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.fd = self.stdin = self.stdout = self.stderr = None


def spawn(driver, state, argv, *, tty, env, cwd, user, rows, cols, cgroup=None,
          stderr_to_stdout=False) -> ExecSession:
    """cgroup: the name of a cgroup for the command to join instead of the
    container's (a check's, beside it)."""
    seccomp.prepare()
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pipes = [] if tty else [os.pipe2(os.O_CLOEXEC) for _ in range(2 if stderr_to_stdout else 3)]
    helper = os.fork()
    if helper == 0:
        parent_sock.close()
        _helper(driver, state, argv, tty, env, cwd, user, rows, cols, child_sock, pipes, cgroup)
    child_sock.close()
    ours = []
    if not tty:
        (in_r, in_w), (out_r, out_w), *err = pipes
        for fd in (in_r, out_w, *(w for _, w in err)):
            os.close(fd)
        ours = [in_w, out_r, *(r for r, _ in err)]
    try:
        message, fds, _, _ = socket.recv_fds(parent_sock, 4096, 1)
    finally:
        parent_sock.close()
    kind, _, detail = message.decode(errors="replace").partition(" ")
    if kind != "ok":
        for fd in (*fds, *ours):
            os.close(fd)
        os.waitpid(helper, 0)
        raise TerrariumError(f"cannot exec in container {state.name}: {detail or 'the exec helper died'}")
    if tty:
        return ExecSession(helper, int(detail), fd=fds[0])
    return ExecSession(helper, int(detail), stdin=ours[0], stdout=ours[1], stderr=ours[2] if err else None)


def _helper(driver, state, argv, tty, env, cwd, user, rows, cols, sock, pipes, cgroup) -> None:
    try:
        # It lives as long as the command: a copy of the launcher's other
        # descriptors (another exec's pipes, a worker's sockets) would keep
        # them open that long, and another exec's reader from its end.
        sc.close_all_except(sock.fileno(), *(fd for pair in pipes for fd in pair))
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        # Before anything of the container's is joined: this process and the
        # child it forks into the container's pid namespace hold the caller's
        # memory (its environment, its secrets) until the execve. The kernel
        # lets only CAP_SYS_PTRACE, which no container has, trace a
        # non-dumpable process, read its /proc/<pid>/environ, mem or maps, or
        # process_vm_readv it. The execve makes the program dumpable as usual.
        sc.prctl(sc.PR_SET_DUMPABLE, 0)
        # Non-dumpable hides the memory, not what /proc shows anyone: the
        # child's cmdline, comm, stat and status would be its caller's (host
        # paths, the state root, `exec -e` values) until its execve. Set
        # here, so that the child shows these from its fork.
        sc.set_arg_area(_COMMAND_LINE)
        procinfo.set_name(NAME)
        ns_fds = [os.open(f"/proc/{state.pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC) for kind in NAMESPACES]
        # Joined by the child last (see runtime.isolation.userns): the others need host root.
        user_fd = None if state.userns is None else os.open(f"/proc/{state.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        # Opened namespaces of a recycled pid would be someone else's.
        if not procinfo.is_same(state.pid, state.pid_start_time):
            raise OSError(0, "the container's process is gone")
        own_cgroup = []
        if cgroup is None:
            join_cgroup(driver.join_files(state.id))
        else:
            # Joined by the child alone, through files opened while the
            # host's cgroupfs is in view: the helper holds its caller's
            # memory, which must neither count in the check's limits nor
            # make the helper the OOM killer's pick there.
            own_cgroup = [os.open(path, os.O_WRONLY | os.O_CLOEXEC) for path in driver.join_files(cgroup)]
        for fd in ns_fds:
            sc.setns(fd)
            os.close(fd)
        error_r, error_w = os.pipe2(os.O_CLOEXEC)
        master_r, master_w = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # The child starts with every catchable signal blocked: the
        # container's processes see it (and hold CAP_KILL) before its execve,
        # and one of the caller's Python handlers must never run in it.
        mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, _signal.valid_signals())
        pid = os.fork()
        if pid == 0:
            os.close(error_r)
            sock.close()
            master_r.close()
            _child(argv, tty, env, cwd, user, rows, cols, master_w, pipes, error_w, user_fd, own_cgroup)
        _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
        for fd in own_cgroup:
            os.close(fd)
        if user_fd is not None:
            os.close(user_fd)
        os.close(error_w)
        master_w.close()
        for pair in pipes:
            for fd in pair:
                os.close(fd)
        error = _await_exec(pid, error_r)
        master = []
        if tty and not error:
            # Sent before the execve, and the child's end is closed by now.
            _, master, _, _ = socket.recv_fds(master_r, 1, 1)
        master_r.close()
        if error or (tty and not master):
            sock.sendall(b"error " + (error or b"no terminal was opened"))
        else:
            socket.send_fds(sock, [f"ok {pid}".encode()], master)
        for fd in master:
            os.close(fd)
        sock.close()
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(128 - code if code < 0 else code)
    except BaseException as exc:  # noqa: BLE001 - a forked helper must report, never return
        try:
            sock.sendall(f"error {exc}".encode())
        finally:
            os._exit(127)


def _await_exec(pid: int, error_r: int) -> bytes:
    """What the child wrote on its error pipe, or b"" once its execve has
    closed the pipe. SIGSTOP cannot be blocked, and a child stopped before
    its execve would hold the caller for ever: a stopped or slow child is
    killed, and the reason returned."""
    poller = select.poll()
    poller.register(error_r, select.POLLIN)
    deadline = time.monotonic() + START_TIMEOUT
    error = b""
    while True:
        if poller.poll(POLL_MS):
            chunk = os.read(error_r, 4096)
            if not chunk:
                os.close(error_r)
                return error
            error += chunk
            continue
        if os.waitid(os.P_PID, pid, os.WSTOPPED | os.WNOHANG | os.WNOWAIT) is not None:
            reason = b"it was stopped before its command started"
        elif time.monotonic() > deadline:
            reason = b"its command did not start within %d s" % START_TIMEOUT
        else:
            continue
        os.kill(pid, signal.SIGKILL)
        os.close(error_r)
        return error or reason


def _signals_to_reset() -> tuple[int, ...]:
    """Every signal this process ignores or catches (SigIgn, SigCgt): set to
    the default before the mask opens, a signal that arrived while it was
    blocked kills as it would the program, instead of running the caller's
    handler or being lost to an inherited SIG_IGN."""
    fd = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
    try:
        status = os.read(fd, 65536)
    finally:
        os.close(fd)
    mask = 0
    for field in (b"\nSigIgn:", b"\nSigCgt:"):
        mask |= int(status.split(field, 1)[1].split(None, 1)[0], 16)
    return tuple(sig for sig in range(1, 65) if mask >> (sig - 1) & 1 and sig not in (signal.SIGKILL, signal.SIGSTOP))


def _child(argv, tty, env, cwd, user, rows, cols, sock, pipes, error_w, user_fd, own_cgroup) -> None:
    try:
        join_cgroup(own_cgroup)
        # The container's usual umask, not its caller's (root processes run with 077).
        os.umask(0o022)
        if user_fd is not None:
            # Before the PTY: its owner is whoever opens it.
            userns.join(user_fd)
            os.close(user_fd)
        if tty:
            master, slave = terminal.open_pair(rows, cols)
            socket.send_fds(sock, [b"m"], [master])
            os.close(master)
            terminal.make_controlling(slave)
        else:
            os.setsid()
            (in_r, _), (_, out_w), *err = pipes
            err_w = err[0][1] if err else out_w
            for target, fd in enumerate((in_r, out_w, err_w)):
                os.dup2(fd, target, inheritable=True)
        sock.close()
        sc.close_all_except(error_w)
        os.chdir(cwd)
        uid, gid = user or (None, None)
        take_container_credentials(uid, gid, bounding_dropped=False)
        reset_signals(_signals_to_reset())
        exec_command(argv, env)
    except BaseException as exc:  # noqa: BLE001 - report to the helper, never return into the caller's code
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        try:
            os.write(error_w, message.encode(errors="replace"))
        finally:
            os._exit(127)
