"""The per-container supervisor.

The shim is forked from the launching process (no exec: it shares the
launcher's pages and starts in microseconds). It is a session leader, a
child subreaper, and the parent of the container's pid 1, which lets it
collect the exit status, and nothing else can: it writes exit_code and
oom_killed into state.json, copies output to log.jsonl, holds the PTY
master of a `tty` container and serves attach clients. It outlives the
launcher, whether the launcher is the CLI, a Celery worker or the node
agent, and however it dies: it is then re-parented to the host's init.

A shim comes in two steps. `prefork` forks it, and it does at once what
is the same for every container: it leaves the launcher's session and
descriptors and forks pid 1 of a new pid namespace, which makes the rest
of its namespaces and waits for its plan (container_init.container_init).
`WarmShim.start` then gives it one container. A Runtime forks its shim
first thing in a start, so that pid 1 makes its namespaces while the
Runtime makes the container's directories and cgroup; the forker keeps
one forked ahead between starts, so that a start from the dashboard's
worker finds that work done.

One fork, not the classic double fork that re-parents at once: the
intermediate process cost a millisecond per start. The launcher therefore
reaps its own shims: `client.reap()` collects those that have exited, and the
Runtime calls it on every start and wait (as subprocess reaps its Popen
objects); a launcher that ignores SIGCHLD (the forker) has the kernel do it.

The launcher sends the plan straight to the waiting pid 1, which makes
the command's pipes and passes the shim its ends, and sends the shim the
container's record with the attach socket, if any, so both work at once.
The shim answers `ok <pid>` once it has recorded the start, while pid 1
execs, or `error <message>` (SOCK_SEQPACKET pairs, JSON requests). The
launcher learns of the execve from pid 1 itself: its end of the plan
channel closes then; a failed one sends a byte there first, and the
shim, having put the old record back, answers again with the error. In
the error case the shim has already removed the cgroup, and the launcher
waits until it is gone. After `ok` it keeps the channel open until it
has recorded the exit, so the launcher learns of the exit at once
(runtime.shim.client).
"""

import _signal
import errno
import gc
import json
import os
import select
import signal
import socket

from runtime.isolation import container_init, terminal
from runtime.linux import syscalls as sc
from runtime.linux.procinfo import set_name, start_time
from runtime.shim import attach, logs
from runtime.shim.client import WarmShim, track
from runtime.state import ContainerState, StateStore, now_iso

_CHUNK = 65536
# Under the state root: where each pid 1 builds /proc, /sys and /dev ahead (see filesystem.stage).
STAGE_DIR = "stage"
_MAX_MESSAGE = 1 << 20
# A shim's nice value once the exit is recorded.
CLEANUP_NICE = 19


def prefork(store: StateStore, driver, cgroup: str | None = None, join_fds: tuple[int, ...] = (),
            host=None) -> WarmShim:
    """Fork a shim whose pid 1 waits in its new namespaces for `WarmShim.start`:
    in the cgroup named `cgroup` (made by the caller, renamed by the launcher
    for its container; the shim removes it if it is never used; join_fds are
    its join files, opened by the caller before anyone could rename it), or,
    without one, in none of its own until the plan names the container's.
    host: container_init.host_facts() of this process, if it keeps them."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    plan_ours, plan_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            plan_ours.close()
            os.setsid()
            _Shim(store, driver, theirs, plan_theirs, cgroup, join_fds, host).run()
        finally:
            os._exit(0)
    # A launcher that ignores SIGCHLD (the forker) has the kernel reap them.
    if _signal.getsignal(signal.SIGCHLD) != _signal.SIG_IGN:
        track(pid)
    theirs.close()
    plan_theirs.close()
    return WarmShim(pid, ours, plan_ours, cgroup)


class _Shim:
    def __init__(self, store, driver, channel, plan_channel, spare_cgroup, join_fds, host):
        self.store, self.driver, self.channel, self.plan_channel = store, driver, channel, plan_channel
        self.spare_cgroup, self.join_fds, self.host = spare_cgroup, join_fds, host
        self.state = self.cid = self.request_record = None
        self.tty = False
        self.clients = []
        self.listener = None
        self.outputs = {}
        self.stdin_w = None
        self.master = None
        self.layer = None
        self.init_sock = self.error_r = None
        self.early_error = b""
        self.start_time = self.init_start_time = None
        # Whether the running record is written (see _start): a failed start puts the old one back.
        self.recorded = False

    def run(self) -> None:
        # A full collection would touch, and so copy, every page shared with the launcher.
        gc.disable()
        try:
            set_name("terrarium-shim")
            # _signal, not signal: see container_init.reset_signals.
            for sig in container_init.SUPERVISOR_IGNORED:
                _signal.signal(sig, _signal.SIG_IGN)
            # A launcher that ignores SIGCHLD would have pid 1's exit status discarded.
            _signal.signal(signal.SIGCHLD, _signal.SIG_DFL)
            self._close_inherited()
            sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
            pid = self._fork_init()
        except Exception as exc:  # noqa: BLE001 - whatever broke, the launcher must hear of it
            self._remove_spare_cgroup()
            # Once it has asked: a reply sent before would be lost with its request.
            if self._receive_request():
                self._report_error(str(exc))
            return
        ready, _, _ = select.select([self.channel, self.error_r], [], [])
        # The launcher sends pid 1 its plan before this shim its request, so
        # pid 1 may be past its execve (its error pipe at end-of-file) first:
        # then it has handed over its stdio already (container_init.hand_to_shim).
        if self.channel not in ready and not self._handed_over():
            # pid 1 is gone before it had a plan: killed (nothing on its error
            # pipe), then this spare is of no use and leaves; or it failed, and
            # the start it was for reports why.
            self.early_error = self._read_error()
            if not self.early_error:
                self._abandon(pid)
                return
        if not self._receive_request():
            self._abandon(pid)
            return
        try:
            started = self._start(pid)
        except Exception as exc:  # noqa: BLE001
            started = self._fail(pid, str(exc))
        if started:
            self._supervise(pid)

    def _close_inherited(self) -> None:
        """Keep none of the launcher's descriptors: a held pipe would keep a
        caller reading the CLI's output waiting until the container exits."""
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        sc.close_all_except(null, self.channel.fileno(), self.plan_channel.fileno(), *self.join_fds)
        os.close(null)

    def _fork_init(self) -> int:
        self.init_sock, init_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        self.error_r, error_w = os.pipe2(os.O_CLOEXEC)
        try:
            sc.unshare(sc.CLONE_NEWPID)
            pid = os.fork()
            if pid == 0:
                self.init_sock.close()
                self.channel.close()
                os.close(self.error_r)
                ahead = (self.driver.version, list(self.join_fds)) if self.spare_cgroup else None
                container_init.container_init(self.plan_channel, init_end, error_w, f"{self.store.root}/{STAGE_DIR}", ahead,
                                    self.host)
        finally:
            self.plan_channel.close()
            for fd in self.join_fds:
                os.close(fd)
        init_end.close()
        os.close(error_w)
        # Read ahead, while a pre-forked shim waits: both are fixed from now on.
        self.start_time, self.init_start_time = start_time(os.getpid()), start_time(pid)
        return pid

    def _handed_over(self) -> bool:
        """Whether pid 1's hand-over is waiting to be read (not its end-of-file)."""
        try:
            return bool(self.init_sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except OSError:
            return False

    def _receive_request(self) -> bool:
        """The container this shim is for; False if the launcher went away instead."""
        try:
            message, received, _, _ = socket.recv_fds(self.channel, _MAX_MESSAGE, 1)
        except OSError:
            return False
        if not message:
            return False
        request = json.loads(message)
        # Kept as sent: a failed start writes it back over the running record.
        self.request_record = request["state"]
        self.state, self.tty = ContainerState.from_dict(self.request_record), request["tty"]
        self.cid = self.state.id
        self.clients = [socket.socket(fileno=fd) for fd in received]
        return True

    def _abandon(self, pid: int) -> None:
        # End-of-file on its plan channel makes the waiting pid 1 exit.
        self.init_sock.close()
        os.waitpid(pid, 0)
        self._remove_spare_cgroup()

    def _remove_spare_cgroup(self) -> None:
        """The cgroup made for this spare, unless a launcher renamed it for its container."""
        if self.spare_cgroup is not None:
            try:
                self.driver.destroy(self.spare_cgroup)
            except Exception:  # noqa: BLE001 - renamed, or gone: nothing of ours left
                pass

    def _start(self, pid: int) -> bool:
        self._receive_from_init()
        handed_over = self.master is not None if self.tty else bool(self.outputs)
        if handed_over and not self.early_error:
            # pid 1 hands over last, all its namespaces made: the record is
            # written while it drops its capabilities, loads seccomp and
            # execs, not after, and the launcher told. It learns of the
            # execve from pid 1 (see shim.client.WarmShim.start); a failed
            # one puts the old record back, and the launcher hears again.
            self._record_running(pid)
            try:
                self.channel.send(f"ok {pid}".encode())
            except OSError:
                pass  # the launcher died meanwhile; the container runs on, and is recorded
            self.store.unlink_replaced()
        error = self.early_error or self._read_error()
        if error or not handed_over:
            return self._fail(pid, error.decode(errors="replace") or "the container's init died before exec")
        if self.master is not None:
            self.outputs = {self.master: attach.OUT}
        return True

    def _record_running(self, pid: int) -> None:
        # Written over, not read and updated under the lock: nothing else
        # changes a record that is not running, except its removal.
        state = self.state
        state.status, state.pid, state.pid_start_time = "running", pid, self.init_start_time
        state.shim_pid, state.shim_start_time = os.getpid(), self.start_time
        state.started_at, state.finished_at, state.exit_code, state.oom_killed = now_iso(), None, None, False
        state.namespaces = _namespaces(pid)
        self.store.write(state, unlink_later=True)
        self.recorded = True

    def _read_error(self) -> bytes:
        """What pid 1 wrote before it exited, or b"" at its successful execve; read once."""
        error = b""
        while chunk := os.read(self.error_r, 4096):
            error += chunk
        os.close(self.error_r)
        return error

    def _receive_from_init(self) -> None:
        """What pid 1 hands over before its execve (container_init.hand_to_shim): the
        container's layer, then the PTY master, or our ends of the command's
        pipes (stdout, stderr, and stdin if interactive)."""
        try:
            _, received, _, _ = socket.recv_fds(self.init_sock, 16, 4)
        except OSError:
            received = []
        finally:
            self.init_sock.close()
        if len(received) < 2:
            for fd in received:
                os.close(fd)
            return
        self.layer, ends = received[0], received[1:]
        if self.tty:
            self.master = ends[0]
        elif len(ends) >= 2:
            self.outputs = {ends[0]: attach.OUT, ends[1]: attach.ERR}
            if len(ends) == 3:
                self.stdin_w = ends[2]

    def _fail(self, pid: int, message: str) -> bool:
        # pid 1 may have started the command before the start failed (its record could not be written).
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        self._reap_all()
        if self.recorded:
            try:
                self.store.write(ContainerState.from_dict(self.request_record))
            except Exception:  # noqa: BLE001 - removed meanwhile: nothing to put back
                pass
        try:
            self.driver.kill_all(self.cid, signal.SIGKILL)
            self.driver.destroy(self.cid)
        except Exception:  # noqa: BLE001 - the launcher destroys again and reports
            pass
        self._report_error(message)
        return False

    def _report_error(self, message: str) -> None:
        try:
            self.channel.send(f"error {' '.join(message.split())}".encode())
        except OSError:
            pass

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
        state = self.state
        state.status, state.exit_code, state.oom_killed, state.finished_at, state.pid = "exited", code, oom, now_iso(), None
        try:
            # Written from this shim's copy of the running record, not read
            # again: the only change others make to a running record is its
            # status (pause), which this replaces. Under the lock, as every
            # read-modify-write of a record is.
            with self.store.locked(self.cid):
                self.store.write(state, unlink_later=True)
        except Exception:  # noqa: BLE001 - deleted while running: nothing left to record into
            pass
        # The launcher's Runtime.wait watches for this end-of-file.
        self.channel.close()
        # What is left is cleaning up: it yields to the starts of others.
        os.setpriority(os.PRIO_PROCESS, 0, CLEANUP_NICE)
        self.store.unlink_replaced()
        log.close()
        for client in self.clients:
            try:
                client.sendall(attach.frame(attach.EXIT, str(code).encode()))
            except OSError:
                pass
        # After the record, off the waiter's path: a start of this container
        # again waits until this shim has left (Runtime.start), and delete()
        # destroys the cgroup too.
        try:
            # pid 1's exit emptied its pid namespace: only a process that
            # entered the cgroup without joining the namespace can be left.
            self.driver.kill_all(self.cid, signal.SIGKILL)
            self.driver.destroy(self.cid)
        except Exception:  # noqa: BLE001 - delete() destroys leftovers again
            pass
        if self.layer is not None:
            # The overlay's last mount: unmounting it syncs the upper filesystem, here, last.
            os.close(self.layer)


def _namespaces(pid: int) -> dict[str, str]:
    found = {}
    for kind in ("pid", "mnt", "uts", "ipc", "net", "cgroup", "user"):
        try:
            found[kind] = os.readlink(f"/proc/{pid}/ns/{kind}")
        except OSError:
            pass
    return found
