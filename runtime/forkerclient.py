"""The caller's side of `runtime.forker`: starts it on first use, again
after it died, and stops it on `close()` or when garbage collected."""

import os
import socket
import subprocess
import sys
import threading
import weakref

from runtime.sharedforker import MAX_MESSAGE, start_reply, start_request

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Forker:
    def __init__(self, root, cgroup_parent: str):
        self._args = [str(root), cgroup_parent]
        self._lock = threading.Lock()
        self._proc = None
        self._sock = None
        self._stopper = None

    def spawn(self, plan, state, interactive: bool, attach_sock: socket.socket | None) -> tuple[str, str]:
        """As `shim.WarmShim.start`, with a shim the forker forked."""
        request = start_request(plan, state, interactive, *self._args)
        fds = [attach_sock.fileno()] if attach_sock is not None else []
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            try:
                socket.send_fds(self._sock, [request], fds)
            except (BrokenPipeError, ConnectionResetError):
                # It died after the check but before it read anything: nothing was started.
                self._start()
                socket.send_fds(self._sock, [request], fds)
            reply = self._sock.recv(MAX_MESSAGE)
        return start_reply(reply)

    def _start(self) -> None:
        self.close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The caller's sys.path may not be the child's (a script that inserted the checkout).
        path = os.pathsep.join(p for p in (_PACKAGE_DIR, os.environ.get("PYTHONPATH")) if p)
        try:
            # Its own session: a terminal's Ctrl-C meant for the caller must not kill it mid-start.
            proc = subprocess.Popen([sys.executable, "-m", "runtime.forker", str(theirs.fileno()), *self._args],
                                    pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True, env={**os.environ, "PYTHONPATH": path})
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._proc, self._sock = proc, ours
        self._stopper = weakref.finalize(self, _stop, ours, proc)

    def close(self) -> None:
        if self._stopper is not None:
            self._stopper()
        self._proc = self._sock = self._stopper = None


def _stop(sock: socket.socket, proc: subprocess.Popen) -> None:
    """End-of-file on its socket makes the forker exit; reaping it leaves no zombie."""
    sock.close()
    proc.wait()
