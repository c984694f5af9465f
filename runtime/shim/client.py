"""The launcher's side of a shim forked ahead (see runtime.shim.supervisor).

Kept apart from the shim itself so that a launcher handed its shim by a
forker (the CLI, the dashboard's worker) imports none of the supervisor's
code. A `WarmShim` is good for one container: `start` sends pid 1 its plan
and the shim the container's record, then reads the shim's answer.
After `ok`, the shim keeps its end of the channel open until it has
recorded the container's exit: `exit_channel` is readable (end-of-file)
from then on, which is how `Runtime.wait` learns of the exit without
waiting for the shim's own exit, a process teardown later.
"""

import json
import os
import select
import socket

_MAX_MESSAGE = 1 << 20

# Shims this process forked itself and has not reaped yet.
_children: set[int] = set()


def track(pid: int) -> None:
    """A shim this process forked: `reap` collects it once it has exited."""
    _children.add(pid)


class WarmShim:
    """A shim with its pid 1 waiting for a plan, as `shim.prefork` or a forker made it."""

    def __init__(self, pid: int, channel: socket.socket, plan_channel: socket.socket, cgroup: str | None = None):
        self.pid, self.channel, self.plan_channel = pid, channel, plan_channel
        # The cgroup its pid 1 waits in, for the launcher to adopt, if one was made.
        self.cgroup = cgroup
        self.used = False
        self.exit_channel = None

    def alive(self) -> bool:
        """False once the shim has left, as it does when its waiting pid 1 died."""
        try:
            return not _has_exited(self.pid)
        except ProcessLookupError:
            return False

    def start(self, plan, state, interactive: bool = False,
              attach_sock: socket.socket | None = None, layer_fd: int | None = None) -> tuple[str, str]:
        """Start the container whose record is state (as on disk); returns
        ("ok", pid) once the command runs, or ("error", message). After
        ("ok", pid) the caller owns `exit_channel` and closes it. layer_fd,
        the detached mount of a disk-limited layer (runtime.isolation.layerdisk), goes
        to pid 1 with the plan; the caller still closes its own."""
        self.used = True
        try:
            # Made ahead at a low priority (see runtime.forker.zygote): the shim and its
            # pid 1, in the shim's process group until it execs, now do a start.
            os.setpriority(os.PRIO_PGRP, self.pid, 0)
        except OSError:
            pass
        request = json.dumps({"state": state.fields(), "tty": plan.tty}).encode()
        try:
            # The plan first, to pid 1 directly: the start's longest part. The
            # shim reads its request meanwhile (and knows a pid 1 that is past
            # its execve already from what it handed over).
            message = json.dumps({"plan": plan.fields(), "interactive": interactive}).encode()
            if layer_fd is None:
                self.plan_channel.send(message)
            else:
                socket.send_fds(self.plan_channel, [message], [layer_fd])
            socket.send_fds(self.channel, [request], [attach_sock.fileno()] if attach_sock is not None else [])
        except OSError:
            pass  # the shim or pid 1 died waiting; the reply, or its absence, says so
        kind, detail = _reply(self.channel)
        if kind == "ok":
            # The shim answers once it has recorded the start, while pid 1
            # execs. pid 1's end of the plan channel closes at its execve,
            # straight to here, not through the shim; if the execve fails,
            # pid 1 says why first, and the shim, having put the old record
            # back, answers again.
            try:
                failed = self.plan_channel.recv(1)
            except OSError:
                failed = b""
            if not failed:
                self.plan_channel.close()
                self.exit_channel = self.channel
                return "ok", detail
            kind, detail = _reply(self.channel)
        self.plan_channel.close()
        self.channel.close()
        # No process outlives a failed start.
        wait_gone(self.pid)
        reap()
        if kind == "error":
            return "error", detail
        return "error", "the container's supervisor died"

    def discard(self) -> None:
        """Not needed after all: the shim and its waiting pid 1 are gone when this returns."""
        self.used = True
        self.plan_channel.close()
        self.channel.close()
        wait_gone(self.pid)
        reap()


def _reply(channel: socket.socket) -> tuple[str, str]:
    """The shim's next answer, ("ok", pid) or ("error", message); ("", "") if it died."""
    try:
        reply = channel.recv(_MAX_MESSAGE).decode(errors="replace")
    except OSError:
        reply = ""
    kind, _, detail = reply.partition(" ")
    return kind, detail


def reap() -> None:
    """Collect the shims this process forked that have exited."""
    for pid in list(_children):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _children.discard(pid)


def collect(pid: int) -> None:
    """Wait for one shim this process forked to exit, and reap it."""
    if pid in _children:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        _children.discard(pid)


def _has_exited(pid: int) -> bool:
    fd = os.pidfd_open(pid)
    try:
        return bool(select.select([fd], [], [], 0)[0])
    finally:
        os.close(fd)


def wait_gone(pid: int) -> None:
    """Until process pid has exited (whoever reaps it; at once if it is gone)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)
