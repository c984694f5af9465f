"""The forker: a small long-lived process that forks shims for others.

A shim forked straight from a Celery worker maps the worker's whole heap
(Django, Celery, the dashboard) and shares it among few processes, which
makes each shim cost several times what it costs from the CLI; a shim
forked by a CLI process that then exits shares its pages with nobody. A
forker is a fresh interpreter that imports only the launch path; the shims
it forks share its pages, and each other's.

It keeps one shim forked ahead (see runtime.shim.supervisor.prefork): its pid 1
already has its namespaces, /proc, /sys and /dev, and on cgroup v1 a cgroup
of its own, and waits for a plan. A caller asks for it (`{"spare": [state
root, cgroup parent]}`, checked: a forker serves one of each) and gets
`["ok", shim pid, its cgroup or null]` with the shim's and pid 1's sockets
(SCM_RIGHTS), or `["error", message]`; the caller then starts its
container with the shim directly (runtime.shim.client), and the forker
forks the next spare meanwhile. So the forker does nothing per start but
hand over two descriptors. A spare older than the host's last mount
change, or whose pid 1 died, is discarded first. The shims are forked
by the forker's zygote (runtime.forker.zygote), so that the forker's own work
copies no pages. Running shims depend on neither: they are session
leaders, re-parented to the host's init when the zygote exits. Both
ignore SIGCHLD, so the kernel reaps the shims as they exit.

Two ways to run one. A caller's own (`Runtime(forker=True)`, the
dashboard's worker): started on first use over a socket pair, it exits
when the caller's end closes (`serve`); it also removes the directories
of containers the caller deleted, between hand-overs (`SWEEP`). The node's
shared one (`Runtime(shared_forker=True)`, the CLI): an abstract unix
socket that only root may use, started by the first caller that finds
none, leaving when idle (`listen`). Both run as `python -m runtime.forker`.
"""

import json
import os
import select
import signal
import socket
import time

from runtime import cgroups
from runtime.forker.protocol import MAX_MESSAGE, SWEEP, shared_address
from runtime.forker.zygote import Zygote
from runtime.isolation import container_init, seccomp
from runtime.linux.procinfo import is_same, set_name, start_time
from runtime.shim import attach
from runtime.state import StateStore

# The shared forker leaves after this many seconds without a request.
IDLE_ENV, IDLE_DEFAULT_S = "TERRARIUM_FORKER_IDLE_S", 300.0
# A client that connected has this long to send its request.
CLIENT_TIMEOUT_S = 10
# Cgroups made for spares are named `spare-<forker pid>-<its start time>-<hex>` (see _Spares).
SPARE_CGROUP_PREFIX = "spare-"
# The trash is emptied after the next hand-over, or after this many quiet
# seconds since a SWEEP note: a removal never delays a start.
SWEEP_DELAY_S = 0.05


class _Spares:
    """Shims forked ahead, handed over one per start: the part both modes share."""

    def __init__(self, root: str, cgroup_parent: str):
        self.root, self.cgroup_parent = os.path.realpath(root), cgroup_parent
        # The spelling callers use: checked as it is, without resolving it at every request.
        self.root_as_given = root
        self.store, self.driver = StateStore(root), cgroups.driver(cgroup_parent)
        # The filter is loaded by pid 1 from this process's copy, not the caller's.
        seccomp.prepare(os.path.join(root, "cache"))
        # The spare's pid 1 copied the host's mounts when it was made: a mount or
        # unmount since (a disk under the state root, a cgroup hierarchy) makes it
        # stale. mountinfo polls POLLPRI once the mount table has changed.
        self.mount_table = open("/proc/self/mountinfo", "rb")
        self.mount_events = select.poll()
        self.mount_events.register(self.mount_table, select.POLLPRI)
        # Read again after a mount change, with the next spare.
        self.host = None
        self.warm = None
        # The trash needs emptying: at start (what a killed forker left) and
        # after each `sweep` note (see StateStore.remove).
        self.sweep_due = True
        # Spare cgroups are named after the forker that made them: one killed
        # while making or holding spares leaves them to the next to remove.
        pid = os.getpid()
        self.spare_prefix = f"{SPARE_CGROUP_PREFIX}{pid}-{start_time(pid)}-"
        if self.driver.can_adopt:
            self._remove_orphaned_spare_cgroups()
        # Last: it copies what this process holds now.
        self.zygote = Zygote(self.store, self.driver)

    def _remove_orphaned_spare_cgroups(self) -> None:
        for name in self.driver.names_like(SPARE_CGROUP_PREFIX):
            try:
                pid, started, _ = name[len(SPARE_CGROUP_PREFIX):].split("-")
                maker_alive = is_same(int(pid), int(started))
            except ValueError:
                continue
            if not maker_alive:
                # A spare of a dead forker that still has its pid 1 leaves by itself.
                self.driver.remove_if_empty(name)

    def _mounts_changed(self) -> bool:
        """Whether the host's mount table changed since the last call."""
        if not self.mount_events.poll(0):
            return False
        self.host = None
        return True

    def _spare(self):
        self._mounts_changed()  # changes before this one are in the copy it makes
        if self.host is None:
            self.host = container_init.host_facts()
        # Where the driver can rename it, the spare's pid 1 waits in a cgroup
        # of its own, which a start renames for its container: its cgroup
        # namespace and /sys/fs/cgroup mounts are then made ahead as well.
        cgroup, join_fds = None, []
        if self.driver.can_adopt:
            cgroup = f"{self.spare_prefix}{os.urandom(4).hex()}"
            try:
                self.driver.create(cgroup, cgroups.Limits())
                # Opened now: a start may rename the cgroup before pid 1 has joined it.
                join_fds = [os.open(path, os.O_WRONLY | os.O_CLOEXEC) for path in self.driver.join_files(cgroup)]
            except Exception:  # noqa: BLE001 - then the start makes the container's cgroup
                for fd in join_fds:
                    os.close(fd)
                self._remove_cgroup(cgroup)
                cgroup, join_fds = None, []
        try:
            return self._forked(cgroup, join_fds)
        except BaseException:
            if cgroup is not None:
                self._remove_cgroup(cgroup)
            raise
        finally:
            for fd in join_fds:
                os.close(fd)

    def _forked(self, cgroup: str | None, join_fds: list[int]):
        try:
            return self.zygote.spare(cgroup, join_fds, self.host)
        except (BrokenPipeError, ConnectionResetError):
            # It was killed: another takes over, once.
            self.zygote.close()
            self.zygote = Zygote(self.store, self.driver)
            return self.zygote.spare(cgroup, join_fds, self.host)

    def _discard(self, spare) -> None:
        spare.discard()
        # Its shim removes it as it leaves, unless it was killed.
        if spare.cgroup is not None:
            self._remove_cgroup(spare.cgroup)

    def _remove_cgroup(self, name: str) -> None:
        try:
            self.driver.destroy(name)
        except Exception:  # noqa: BLE001 - never made, or already gone
            pass

    def hand_over(self, sock: socket.socket, message: bytes) -> None:
        """Answer one request: the spare's pid with its two sockets, or an
        error. The caller starts its container with the shim itself; this
        process keeps no end of either socket."""
        try:
            root, cgroup_parent = json.loads(message)["spare"]
            if cgroup_parent != self.cgroup_parent or (
                    root != self.root_as_given and os.path.realpath(root) != self.root):
                raise ValueError("this forker serves another state root or cgroup parent")
            if self.warm is not None and (self._mounts_changed() or not self.warm.alive()):
                self._discard(self.warm)
                self.warm = None
            ready, self.warm = self.warm or self._spare(), None
        except Exception as exc:  # noqa: BLE001 - the caller raises it as a failed start
            _reply(sock, json.dumps(["error", str(exc) or type(exc).__name__]).encode())
            return
        try:
            socket.send_fds(sock, [json.dumps(["ok", ready.pid, ready.cgroup]).encode()],
                            [ready.channel.fileno(), ready.plan_channel.fileno()])
        except OSError:
            pass  # the caller is gone: closing our ends below makes the spare leave
        finally:
            ready.channel.close()
            ready.plan_channel.close()

    def refill(self) -> None:
        """Between requests, so that the next one finds its shim forked and its namespaces made."""
        if self.warm is not None:
            return
        try:
            self.warm = self._spare()
        except Exception:  # noqa: BLE001 - the next request forks its own
            self.warm = None

    def sweep(self) -> None:
        """Empty the trash, if a note said it has something."""
        if self.sweep_due:
            self.store.empty_trash()
            self.sweep_due = False

    def close(self) -> None:
        self.store.empty_trash()
        if self.warm is not None:
            self._discard(self.warm)
        self.zygote.close()
        self.mount_table.close()


def serve(sock: socket.socket, root: str, cgroup_parent: str) -> None:
    """One caller's own forker, over a socket pair: until the caller closes
    its end. It also empties the state root's trash (see StateStore.remove)."""
    spares = _Spares(root, cgroup_parent)
    try:
        while True:
            if spares.sweep_due and not select.select([sock], [], [], SWEEP_DELAY_S)[0]:
                spares.sweep()
                continue
            message = sock.recv(MAX_MESSAGE)
            if not message:
                return
            if message == SWEEP:
                spares.sweep_due = True
                continue
            spares.hand_over(sock, message)
            spares.refill()
            spares.sweep()
    finally:
        spares.close()


def listen(ready_fd: int, root: str, cgroup_parent: str) -> None:
    """The node's shared forker, for short-lived callers (the CLI): one
    request per connection, from root only; leaves after
    $TERRARIUM_FORKER_IDLE_S seconds (default 300) without a start, or when
    asked (`quit`). It empties the trash as serve does, after `sweep` notes.
    Writes to ready_fd once it listens, or closes it unwritten if another
    one already does."""
    idle_s = float(os.environ.get(IDLE_ENV, IDLE_DEFAULT_S))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        listener.bind(shared_address(root, cgroup_parent))
    except OSError:
        os.close(ready_fd)
        return
    listener.listen(16)
    spares = _Spares(root, cgroup_parent)
    os.write(ready_fd, b"ready")
    os.close(ready_fd)
    last_start = time.monotonic()
    try:
        while True:
            wait = last_start + idle_s - time.monotonic()
            listener.settimeout(max(0.0, min(wait, SWEEP_DELAY_S) if spares.sweep_due else wait))
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if not spares.sweep_due:
                    return
                spares.sweep()
                continue
            with conn:
                if not attach.peer_is_root(conn):
                    continue
                conn.settimeout(CLIENT_TIMEOUT_S)
                try:
                    message = conn.recv(MAX_MESSAGE)
                except OSError:
                    continue
                if message == b"quit":
                    _reply(conn, b"bye")
                    return
                if message == SWEEP:
                    spares.sweep_due = True
                    continue
                if message:
                    spares.hand_over(conn, message)
                    last_start = time.monotonic()
            spares.refill()
            spares.sweep()
    finally:
        spares.close()
        listener.close()


def _reply(conn: socket.socket, data: bytes) -> None:
    # A command interrupted meanwhile (Ctrl-C) must not take the forker with it.
    try:
        conn.send(data)
    except OSError:
        pass


def main(argv: list[str]) -> None:
    """`<fd> <state root> <cgroup parent>` or `--listen <ready fd> <state root> <cgroup parent>`."""
    set_name("terrarium-fork")
    # The shims and containers' records it starts are root's alone, whatever its caller's umask.
    os.umask(0o077)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    if argv[0] == "--listen":
        # Started by a caller that exits at once: leave it, so that it need not reap us.
        if os.fork():
            os._exit(0)
        listen(int(argv[1]), argv[2], argv[3])
    else:
        serve(socket.socket(fileno=int(argv[0])), argv[1], argv[2])
