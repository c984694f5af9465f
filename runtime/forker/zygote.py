"""The forker's zygote: the process that forks the spare shims.

A fork write-protects every page of the process that forks, and each page
it writes afterwards is copied. A forker that forked each spare itself
and then answered requests, made cgroups and emptied the trash copied
~270 pages per start, ~0.7 ms of CPU. So a forker forks this process once,
when it starts, and asks it for every spare; between forks it runs only
its short loop. The forker keeps the rest: cgroups, hand-overs, the trash.

Over a SOCK_SEQPACKET pair: a request is `[cgroup name or null, host facts
or null]` (JSON; the facts, init.host_facts(), only when they changed)
with the cgroup's join files (SCM_RIGHTS); the answer `["ok", pid]` with
the shim's and pid 1's sockets, or `["error", message]`. It leaves when
the forker's end closes, and keeps no end of a spare's sockets.
"""

import json
import os
import socket

from runtime.linux import syscalls as sc
from runtime.linux.procinfo import set_name
from runtime.shim import supervisor
from runtime.shim.client import WarmShim, wait_gone

_MAX_MESSAGE = 1 << 16
# The nice value spares are made at.
SPARE_NICE = 19
# A cgroup's join files: one per v1 hierarchy.
_MAX_FDS = 32


class Zygote:
    def __init__(self, store, driver):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        self.pid = os.fork()
        if self.pid == 0:
            try:
                set_name("terrarium-zyg")
                # Spares are made ahead, between starts: they yield to one under
                # way (a launcher raises the one it takes, see WarmShim.start).
                os.setpriority(os.PRIO_PROCESS, 0, SPARE_NICE)
                # None of the forker's: its callers' sockets, a listening one.
                sc.close_all_except(theirs.fileno())
                _serve(theirs, store, driver)
            finally:
                os._exit(0)
        theirs.close()
        self.sock = ours
        self.host = None

    def spare(self, cgroup: str | None, join_fds: list[int], host) -> WarmShim:
        """A shim forked by the zygote, its pid 1 waiting in `cgroup` (see supervisor.prefork)."""
        facts = host if host is not self.host else None
        socket.send_fds(self.sock, [json.dumps([cgroup, facts]).encode()], join_fds)
        self.host = host
        message, received, _, _ = socket.recv_fds(self.sock, _MAX_MESSAGE, 2)
        if not message:
            raise ConnectionResetError("the forker's zygote died")
        kind, detail = json.loads(message)
        if kind != "ok" or len(received) != 2:
            for fd in received:
                os.close(fd)
            raise OSError(f"the zygote could not fork a shim: {detail}")
        return WarmShim(detail, socket.socket(fileno=received[0]), socket.socket(fileno=received[1]), cgroup)

    def close(self) -> None:
        """Make it leave, and wait until it has (the forker ignores SIGCHLD: the kernel reaps it)."""
        self.sock.close()
        wait_gone(self.pid)


def _serve(sock: socket.socket, store, driver) -> None:
    host = None
    while True:
        message, join_fds, _, _ = socket.recv_fds(sock, _MAX_MESSAGE, _MAX_FDS)
        if not message:
            return
        try:
            cgroup, facts = json.loads(message)
            if facts is not None:
                host = (facts[0], tuple(facts[1]))
            spare = supervisor.prefork(store, driver, cgroup, tuple(join_fds), host)
        except Exception as exc:  # noqa: BLE001 - the forker reports it as a failed spare
            sock.send(json.dumps(["error", str(exc) or type(exc).__name__]).encode())
        else:
            socket.send_fds(sock, [json.dumps(["ok", spare.pid]).encode()],
                            [spare.channel.fileno(), spare.plan_channel.fileno()])
            spare.channel.close()
            spare.plan_channel.close()
        finally:
            for fd in join_fds:
                os.close(fd)
