"""The caller's side of `runtime.forker.server`: starts it on first use, again
after it died, and stops it on `close()` or when garbage collected. After
each start the Runtime asks for the next spare (`ask_ahead`), so a start
finds its shim already handed over; it is checked against host mount
changes since, as the forker checks its own."""

import select
import socket
import subprocess
import threading
import weakref

from runtime.errors import TerrariumError
from runtime.forker.protocol import SWEEP, command, receive_spare, spare_request



class Forker:
    # Deleted containers go to the trash, which this forker empties (see runtime.forker.server.serve).
    collects_trash = True

    def __init__(self, root, cgroup_parent: str):
        self._args = [str(root), cgroup_parent]
        self._lock = threading.Lock()
        self._proc = None
        self._sock = None
        self._stopper = None
        # Whether the next spare was asked for already; and the host's mount
        # table changes since (see runtime.forker.server: a spare copies the mounts).
        self._asked = False
        self._mount_table = open("/proc/self/mountinfo", "rb")
        self._mount_events = select.poll()
        self._mount_events.register(self._mount_table, select.POLLPRI)

    def take(self):
        """A shim forked ahead by the forker (a runtime.shim.client.WarmShim), for the caller
        to start its container with."""
        with self._lock:
            spare = self._asked_for()
            if spare is None:
                if self._proc is None or self._proc.poll() is not None:
                    self._start()
                try:
                    self._send_ask()
                except (BrokenPipeError, ConnectionResetError):
                    # It died since the check: start it again, once.
                    self._start()
                    self._send_ask()
                self._asked = False
                # Just made or checked by the forker: no need to check it again.
                spare = receive_spare(self._sock)
            return spare

    def ask_ahead(self) -> None:
        """Ask for the next spare now, once a start is through: the forker
        forks it while this container runs, and hands it over at once, so
        the next start finds it already here."""
        with self._lock:
            if self._asked:
                return
            try:
                self._send_ask()
            except OSError:
                # The forker died after handing the last one over: a new one makes the next.
                self._start()
                self._send_ask()

    def _send_ask(self) -> None:
        self._mount_events.poll(0)
        self._sock.send(spare_request(*self._args))
        self._asked = True

    def _asked_for(self):
        """The spare asked for after the last start, unless it is stale or dead (then discarded) or lost."""
        if not self._asked:
            return None
        self._asked = False
        try:
            spare = receive_spare(self._sock)
        except (OSError, TerrariumError):
            return None
        if self._mount_events.poll(0) or not spare.alive():
            spare.discard()
            return None
        return spare

    def sweep_later(self) -> None:
        """Tell the forker that containers were moved into the trash; it empties
        it between hand-overs. A note lost with a dying forker leaves the trash
        to the next one, which empties it when it starts."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
                return
            try:
                self._sock.send(SWEEP)
            except OSError:
                self._start()

    def _start(self) -> None:
        self._close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv, env = command(str(theirs.fileno()), *self._args)
        try:
            # Its own session: a terminal's Ctrl-C meant for the caller must not kill it mid-start.
            proc = subprocess.Popen(argv, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True, env=env)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._proc, self._sock = proc, ours
        self._stopper = weakref.finalize(self, _stop, ours, proc)

    def close(self) -> None:
        """Stop the forker, and the spare asked for ahead: both are gone, with
        the spare's cgroup, when this returns."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        spare = self._asked_for()
        if spare is not None:
            spare.discard()
        if self._stopper is not None:
            self._stopper()
        self._proc = self._sock = self._stopper = None


def _stop(sock: socket.socket, proc: subprocess.Popen) -> None:
    """End-of-file on its socket makes the forker exit; reaping it leaves no zombie."""
    sock.close()
    proc.wait()
