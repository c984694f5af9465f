"""The forker: a small long-lived process that forks shims for a big caller.

A shim forked straight from a Celery worker maps the worker's whole heap
(Django, Celery, the dashboard) and shares it among few processes, which
makes each shim cost several times what it costs from the CLI. A caller
that opts in (`Runtime(forker=True)`) instead starts this module once, as
a fresh interpreter that imports only the launch path, and sends it each
start over a SOCK_SEQPACKET socket: one JSON request per start, with the
attach socket, if any, passed along; one JSON reply `["ok", pid]` or
`["error", message]`, as `shim.spawn` returns. Shims then share pages with
this process only.

It serves one start at a time and exits when the caller's end of the
socket closes. Running shims do not depend on it: they are session
leaders, re-parented to the host's init when it exits. It ignores SIGCHLD,
so the kernel reaps the shims it forked as they exit.

    python -m runtime.forker <fd>
"""

import json
import signal
import socket
import sys
from pathlib import Path

from runtime import cgroups, seccomp, shim
from runtime.init import InitPlan
from runtime.state import StateStore

MAX_MESSAGE = 1 << 20


def serve(sock: socket.socket) -> None:
    drivers = {}
    while True:
        message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 1)
        if not message:
            return
        attach_sock = socket.socket(fileno=fds[0]) if fds else None
        try:
            reply = _spawn(json.loads(message), attach_sock, drivers)
        except Exception as exc:  # noqa: BLE001 - the caller raises it as a failed start
            reply = ["error", str(exc) or type(exc).__name__]
        finally:
            if attach_sock is not None:
                attach_sock.close()
        sock.send(json.dumps(reply).encode())


def _spawn(request: dict, attach_sock, drivers: dict) -> list:
    root = Path(request["root"])
    parent = request["cgroup_parent"]
    if parent not in drivers:
        drivers[parent] = cgroups.driver(parent)
    # The filter is loaded by pid 1 from this process's copy, not the caller's.
    seccomp.prepare(root / "cache")
    kind, detail = shim.spawn(InitPlan(**request["plan"]), StateStore(root), request["cid"], drivers[parent],
                              interactive=request["interactive"], attach_sock=attach_sock)
    return [kind, detail]


if __name__ == "__main__":
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    serve(socket.socket(fileno=int(sys.argv[1])))
