"""The forker: a small long-lived process that forks shims for a big caller.

A shim forked straight from a Celery worker maps the worker's whole heap
(Django, Celery, the dashboard) and shares it among few processes, which
makes each shim cost several times what it costs from the CLI. A caller
that opts in (`Runtime(forker=True)`) instead starts this module once, as
a fresh interpreter that imports only the launch path, and sends it each
start over a SOCK_SEQPACKET socket: one JSON request per start (plan,
container record, interactive), with the attach socket, if any, passed along;
one JSON reply `["ok", pid]` or `["error", message]`, as
`shim.WarmShim.start` returns. Shims then share pages with this process
only. A forker serves one Runtime: one state root and one cgroup parent.

Between starts it keeps one shim forked ahead (see runtime.shim.prefork):
its pid 1 already has its namespaces and waits for a plan, so a start
does only what depends on the container (a spare older than the host's
last mount change, or whose pid 1 died, is discarded). It serves one start at a time
and exits when the caller's end of the socket closes, after discarding
that idle pair. Running shims do not depend on it: they are session
leaders, re-parented to the host's init when it exits. It ignores
SIGCHLD, so the kernel reaps the shims it forked as they exit.

    python -m runtime.forker <fd> <state root> <cgroup parent>
"""

import json
import select
import signal
import socket
import sys
from pathlib import Path

from runtime import cgroups, seccomp, shim
from runtime.init import InitPlan
from runtime.state import ContainerState, StateStore

MAX_MESSAGE = 1 << 20


def serve(sock: socket.socket, root: str, cgroup_parent: str) -> None:
    store, driver = StateStore(root), cgroups.driver(cgroup_parent)
    # The filter is loaded by pid 1 from this process's copy, not the caller's.
    seccomp.prepare(Path(root) / "cache")
    # The spare's pid 1 copied the host's mounts when it was made: a mount or
    # unmount since (a disk under the state root, a cgroup hierarchy) makes it
    # stale. mountinfo polls POLLPRI once the mount table has changed.
    mount_table = open("/proc/self/mountinfo", "rb")
    mount_events = select.poll()
    mount_events.register(mount_table, select.POLLPRI)

    def spare() -> shim.WarmShim:
        mount_events.poll(0)  # changes before this one are in the copy it makes
        return shim.prefork(store, driver)

    warm = None
    try:
        while True:
            message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 1)
            if not message:
                return
            attach_sock = socket.socket(fileno=fds[0]) if fds else None
            try:
                request = json.loads(message)
                if warm is not None and (mount_events.poll(0) or not warm.alive()):
                    warm.discard()
                    warm = None
                ready, warm = warm or spare(), None
                reply = list(ready.start(InitPlan(**request["plan"]), ContainerState.from_dict(request["state"]),
                                         request["interactive"], attach_sock))
            except Exception as exc:  # noqa: BLE001 - the caller raises it as a failed start
                reply = ["error", str(exc) or type(exc).__name__]
            finally:
                if attach_sock is not None:
                    attach_sock.close()
            sock.send(json.dumps(reply).encode())
            # Between starts, so that the next one finds its shim forked and its namespaces made.
            try:
                warm = spare()
            except Exception:  # noqa: BLE001 - the next start forks its own
                warm = None
    finally:
        if warm is not None:
            warm.discard()
        mount_table.close()


if __name__ == "__main__":
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2], sys.argv[3])
