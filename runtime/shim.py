"""The per-container supervisor.

`spawn` forks the shim from the launching process (no exec: the shim
shares the launcher's pages and starts in microseconds). The shim is a
session leader, a child subreaper, and the parent of the container's
pid 1, which lets it collect the exit status, and nothing else can: it
writes exit_code and oom_killed into state.json, copies output to
log.jsonl, holds the PTY master of a `tty` container and serves attach
clients. It outlives the launcher, whether the launcher is the CLI, a
Celery worker or the node agent, and however it dies: the shim is then
re-parented to the host's init.

One fork, not the classic double fork that re-parents at once: the
intermediate process cost a millisecond per start. The launcher therefore
reaps its own shims: `reap()` collects those that have exited, and the
Runtime calls it on every start and wait (as subprocess reaps its Popen
objects); a launcher that ignores SIGCHLD (the forker) has the kernel do it.

The launcher learns the outcome from a report pipe: one line
`ok <pid>` or `error <message>`; in the error case the shim has already
removed the cgroup and the launcher reaps it once it exited.
"""

import errno
import gc
import os
import select
import signal
import socket

from runtime import attach, fds, init, logs, terminal
from runtime import syscalls as sc
from runtime.procinfo import start_time
from runtime.state import StateStore, now_iso

_CHUNK = 65536


_children: set[int] = set()


def spawn(plan: init.InitPlan, store: StateStore, cid: str, driver, interactive: bool = False,
          attach_sock: socket.socket | None = None) -> tuple[str, str]:
    """Start the shim and the container; returns ("ok", pid) or ("error", message)."""
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    shim_pid = os.fork()
    if shim_pid == 0:
        try:
            os.close(report_r)
            os.setsid()
            _Shim(plan, store, cid, driver, interactive, attach_sock, report_w).run()
        finally:
            os._exit(0)
    _children.add(shim_pid)
    os.close(report_w)
    # Read one line, not to end-of-file: a shim forked meanwhile by another
    # thread of the launcher holds a copy of report_w for its whole life.
    with os.fdopen(report_r, "rb") as report:
        line = report.readline().decode(errors="replace").strip()
    kind, _, detail = line.partition(" ")
    if kind == "ok":
        return "ok", detail
    # No process outlives a failed start.
    _wait_gone(shim_pid)
    reap()
    if kind == "error":
        return "error", detail
    return "error", "the container's supervisor died"


def reap() -> None:
    """Collect the shims this process forked that have exited."""
    for pid in list(_children):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _children.discard(pid)


def _wait_gone(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


class _Shim:
    def __init__(self, plan, store, cid, driver, interactive, attach_sock, report_w):
        self.plan, self.store, self.cid, self.driver = plan, store, cid, driver
        self.interactive = interactive
        self.report_w = report_w
        self.clients = [attach_sock] if attach_sock is not None else []
        self.listener = None
        self.outputs = {}
        self.stdin_w = None
        self.master = None

    def run(self) -> None:
        # A full collection would touch, and so copy, every page shared with the launcher.
        gc.disable()
        try:
            for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT):
                signal.signal(sig, signal.SIG_IGN)
            # A launcher that ignores SIGCHLD would have pid 1's exit status discarded.
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self._close_inherited()
            sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
            pid = self._start()
        except Exception as exc:  # noqa: BLE001 - whatever broke, the launcher must hear of it
            self._report_error(str(exc))
            return
        if pid is not None:
            self._supervise(pid)

    def _close_inherited(self) -> None:
        """Keep none of the launcher's descriptors: a held pipe would keep a
        caller reading the CLI's output waiting until the container exits."""
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        fds.close_all_except(null, self.report_w, *(c.fileno() for c in self.clients))
        os.close(null)

    def _start(self) -> int | None:
        plan = self.plan
        error_r, error_w = os.pipe2(os.O_CLOEXEC)
        pty_parent = pty_child = None
        if plan.tty:
            pty_parent, pty_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            stdio = (0, 1, 2)
            child_ends = []
        else:
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            if self.interactive:
                in_r, self.stdin_w = os.pipe2(os.O_CLOEXEC)
            else:
                in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            stdio = (in_r, out_w, err_w)
            child_ends = [in_r, out_w, err_w]
            self.outputs = {out_r: attach.OUT, err_r: attach.ERR}
        sc.unshare(sc.CLONE_NEWPID)
        pid = os.fork()
        if pid == 0:
            os.close(error_r)
            init.container_init(plan, error_w, stdio, pty_child)
        os.close(error_w)
        for fd in child_ends:
            os.close(fd)
        if plan.tty:
            pty_child.close()
            self.master = self._receive_master(pty_parent)
        error = b""
        while chunk := os.read(error_r, 4096):
            error += chunk
        os.close(error_r)
        if error or (plan.tty and self.master is None):
            return self._fail(pid, error.decode(errors="replace") or "the container's init died before exec")
        if self.master is not None:
            self.outputs = {self.master: attach.OUT}
        self.store.update(
            self.cid, status="running", pid=pid, pid_start_time=start_time(pid), shim_pid=os.getpid(),
            shim_start_time=start_time(os.getpid()),
            started_at=now_iso(), finished_at=None, exit_code=None, oom_killed=False,
            namespaces=_namespaces(pid),
        )
        os.write(self.report_w, f"ok {pid}\n".encode())
        os.close(self.report_w)
        return pid

    @staticmethod
    def _receive_master(sock: socket.socket) -> int | None:
        try:
            _, fds, _, _ = socket.recv_fds(sock, 1, 1)
        finally:
            sock.close()
        return fds[0] if fds else None

    def _fail(self, pid: int, message: str) -> None:
        os.waitpid(pid, 0)
        self._reap_all()
        try:
            self.driver.kill_all(self.cid, signal.SIGKILL)
            self.driver.destroy(self.cid)
        except Exception:  # noqa: BLE001 - the launcher destroys again and reports
            pass
        self._report_error(message)
        return None

    def _report_error(self, message: str) -> None:
        os.write(self.report_w, f"error {' '.join(message.split())}\n".encode())

    def _listen(self) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.listener.bind(attach.address(self.cid))
        self.listener.listen(8)

    def _supervise(self, pid: int) -> None:
        log = logs.LogWriter(self.store.path(self.cid))
        pidfd = os.pidfd_open(pid)
        self._listen()
        poller = select.poll()
        for fd in (pidfd, self.listener.fileno(), *self.outputs, *(c.fileno() for c in self.clients)):
            poller.register(fd, select.POLLIN)
        exited = False
        while True:
            # After pid 1 is gone its last output may still be in the pipes: drain, but not forever.
            events = poller.poll(200 if exited else None)
            if exited and not events:
                break
            for fd, _ in events:
                if fd == pidfd:
                    exited = True
                    poller.unregister(pidfd)
                elif fd == self.listener.fileno():
                    self._accept(poller)
                elif fd in self.outputs:
                    self._copy_output(fd, poller, log)
                else:
                    self._client_input(fd, poller)
            if exited and not self.outputs:
                break
        _, status = os.waitpid(pid, 0)
        self._reap_all()
        self._finish(status, log)

    def _accept(self, poller) -> None:
        conn, _ = self.listener.accept()
        if not attach.peer_is_root(conn):
            conn.close()
            return
        self.clients.append(conn)
        poller.register(conn.fileno(), select.POLLIN)

    def _copy_output(self, fd: int, poller, log: logs.LogWriter) -> None:
        try:
            data = os.read(fd, _CHUNK)
        except OSError as exc:
            if exc.errno != errno.EIO:  # EIO: the PTY's last slave was closed
                raise
            data = b""
        kind = self.outputs[fd]
        if not data:
            poller.unregister(fd)
            del self.outputs[fd]
            if fd != self.master:
                os.close(fd)
            return
        log.write("stdout" if kind == attach.OUT else "stderr", data)
        message = attach.frame(kind, data)
        for client in list(self.clients):
            try:
                client.sendall(message)
            except OSError:
                self._drop(client, poller)

    def _client_input(self, fd: int, poller) -> None:
        client = next(c for c in self.clients if c.fileno() == fd)
        try:
            message = attach.read_frame(client)
        except OSError:
            message = None
        if message is None:
            self._drop(client, poller)
            return
        kind, payload = message
        target = self.master if self.master is not None else self.stdin_w
        if kind == attach.INPUT and target is not None:
            try:
                os.write(target, payload)
            except OSError:
                pass
        elif kind == attach.CLOSE and self.stdin_w is not None:
            os.close(self.stdin_w)
            self.stdin_w = None
        elif kind == attach.RESIZE and self.master is not None:
            rows, cols = (int(v) for v in payload.split())
            terminal.resize(self.master, rows, cols)

    def _drop(self, client: socket.socket, poller) -> None:
        poller.unregister(client.fileno())
        self.clients.remove(client)
        client.close()

    def _reap_all(self) -> None:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def _finish(self, status: int, log: logs.LogWriter) -> None:
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
        try:
            oom = self.driver.oom_kills(self.cid) > 0
        except Exception:  # noqa: BLE001 - a vanished cgroup means no OOM record to read
            oom = False
        if oom:
            code = 137
        try:
            # pid 1's exit emptied its pid namespace: only a process that
            # entered the cgroup without joining the namespace can be left.
            if self.driver.procs(self.cid):
                self.driver.kill_all(self.cid, signal.SIGKILL)
            self.driver.destroy(self.cid)
        except Exception:  # noqa: BLE001 - delete() destroys leftovers again
            pass
        try:
            self.store.update(self.cid, status="exited", exit_code=code, oom_killed=oom, finished_at=now_iso(), pid=None)
        except Exception:  # noqa: BLE001 - deleted while running: nothing left to record into
            pass
        log.close()
        for client in self.clients:
            try:
                client.sendall(attach.frame(attach.EXIT, str(code).encode()))
            except OSError:
                pass


def _namespaces(pid: int) -> dict[str, str]:
    found = {}
    for kind in ("pid", "mnt", "uts", "ipc", "net", "cgroup"):
        try:
            found[kind] = os.readlink(f"/proc/{pid}/ns/{kind}")
        except OSError:
            pass
    return found
