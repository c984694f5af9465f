"""The node's PTY owner (runs as root inside the node agent).

It listens on the node's channel for requests from the web consumers and
keeps every shell of this node in memory: the shells outlive the browser
sockets for SHELL_GRACE_SECONDS, so a reload reattaches to the same PTY."""

import asyncio
import logging
import threading
from datetime import timedelta
from pathlib import Path

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from dashboard.classes.activity import note_input
from dashboard.shell import agent_checks, logrelay, services
from dashboard.shell.recording import NodeRecordings
from dashboard.shell.session import PtySession
from dashboard.shell.wire import AGENT_REPLY_SECONDS, LAYER, node_channel
from runtime import Runtime

log = logging.getLogger(__name__)

SWEEP_SECONDS = 10
SILENT_VIEWER_SECONDS = 60
SHUTDOWN_SECONDS = 10
DEFAULT_SHELL = "/bin/sh"


def image_shell(rootfs: Path) -> str:
    """root's login shell from the container's /etc/passwd when the file it
    names exists in the container, else /bin/sh."""
    try:
        lines = (rootfs / "etc/passwd").read_text(errors="replace").splitlines()
    except OSError:
        return DEFAULT_SHELL
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 7 and fields[0] == "root" and fields[6].startswith("/"):
            candidate = rootfs / fields[6].lstrip("/")
            if candidate.is_file() or candidate.is_symlink():
                return fields[6]
    return DEFAULT_SHELL


class ShellAgent:
    def __init__(self, node_name: str, layer, runtime):
        self.node_name = node_name
        self.channel = node_channel(node_name)
        self.layer = layer
        self.runtime = runtime
        self.sessions: dict[str, PtySession] = {}
        self.followers: dict[str, logrelay.LogFollower] = {}
        self.opening: set[str] = set()
        self.started_at = timezone.now()
        self.recordings = NodeRecordings(node_name, layer)
        self._handlers = {
            "open": self.on_open,
            "attach": self.on_attach,
            "input": self.on_input,
            "resize": self.on_resize,
            "ack": self.on_ack,
            "resync": self.on_resync,
            "detach": self.on_detach,
            "close": self.on_close,
            "logs.follow": self.on_logs_follow,
            "logs.ack": self.on_logs_ack,
            "logs.stop": self.on_logs_stop,
            "logs.dump": self.on_logs_dump,
            **self.recordings.handlers(),
        }

    async def serve(self) -> None:
        await database_sync_to_async(services.shell_sessions_close_orphans)(
            node_name=self.node_name, before=self.started_at - timedelta(seconds=AGENT_REPLY_SECONDS)
        )
        sweeper = asyncio.create_task(self._sweep())
        try:
            while True:
                message = await self.layer.receive(self.channel)
                handler = self._handlers.get(message.get("type"))
                if handler is None:
                    log.warning("shell agent: unknown message %r", message.get("type"))
                    continue
                try:
                    await handler(message)
                except Exception:
                    log.exception("shell agent: %s failed", message.get("type"))
        finally:
            sweeper.cancel()
            await self.shutdown()

    async def shutdown(self) -> None:
        """End every shell and wait for it, so no PTY or helper outlives us."""
        sessions = list(self.sessions.values())
        for session in sessions:
            session.terminate()
        if sessions:
            await asyncio.wait([asyncio.create_task(s.ended.wait()) for s in sessions], timeout=SHUTDOWN_SECONDS)

    async def _sweep(self) -> None:
        await self.recordings.sweep()
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            for session in list(self.sessions.values()):
                session.drop_stale(SILENT_VIEWER_SECONDS)

    async def _checked(self, check, m, **what):
        """check(**what) from agent_checks, or None after logging the refusal
        and telling the reply channel: nothing else is done for m."""
        try:
            return await database_sync_to_async(check)(user_id=m.get("user"), node_name=self.node_name, **what)
        except agent_checks.Refused as exc:
            log.warning("shell agent: refused %s: %s", m.get("type"), exc)
            if isinstance(m.get("reply"), str):
                await self.layer.send(m["reply"], {"type": "shell.error", "message": "refused by the node"})
            return None

    async def on_open(self, m) -> None:
        # A repeated open (the consumer heard nothing back) is an attach.
        key = m["session"]
        if key in self.sessions or key in self.opening:
            await self.on_attach({**m, "readonly": False})
            return
        self.opening.add(key)
        ref = await self._checked(agent_checks.shell_target, m, key=key, write=True, opening=True)
        if ref is None:
            self.opening.discard(key)
            return
        # Exec takes a fork and a few setns calls: off the loop, and not
        # awaited here, so other shells' keystrokes are not held up.
        asyncio.create_task(self._open(m, ref))

    async def _open(self, m, ref: str) -> None:
        key, reply = m["session"], m["reply"]
        try:
            process = await asyncio.to_thread(self._exec, ref, int(m["rows"]), int(m["cols"]))
        except Exception as exc:
            self.opening.discard(key)
            log.warning("shell %s: exec in %s failed: %s", key, ref, exc)
            await self.layer.send(reply, {"type": "shell.error", "message": str(exc) or type(exc).__name__})
            await database_sync_to_async(services.shell_session_close)(key=key, exit_code=None)
            return
        recorder = await self.recordings.start(key, rows=int(m["rows"]), cols=int(m["cols"]))
        session = PtySession(
            key, process, send=self.layer.send, on_end=self._ended, grace_seconds=settings.SHELL_GRACE_SECONDS,
            recorder=recorder,
        )
        self.sessions[key] = session
        self.opening.discard(key)
        session.attach(reply, readonly=False)

    def _exec(self, ref: str, rows: int, cols: int):
        state = self.runtime.get(ref)
        rootfs = Path(self.runtime.root) / "containers" / state.id / "rootfs"
        return self.runtime.exec(
            state.id, [image_shell(rootfs)], tty=True, env={"TERM": "xterm-256color"}, rows=rows, cols=cols
        )

    async def _ended(self, key: str, code) -> None:
        self.sessions.pop(key, None)
        await database_sync_to_async(services.shell_session_close)(key=key, exit_code=code)

    async def on_attach(self, m) -> None:
        readonly = bool(m.get("readonly"))
        if await self._checked(agent_checks.shell_target, m, key=m["session"], write=not readonly) is None:
            return
        if m["session"] in self.opening:
            return
        session = self.sessions.get(m["session"])
        if session is None or session.exit_code is not None:
            code = session.exit_code if session else None
            await self.layer.send(m["reply"], {"type": "shell.gone", "code": code})
            return
        session.attach(m["reply"], readonly=readonly)

    async def on_input(self, m) -> None:
        session = self.sessions.get(m["session"])
        if session is not None and session.can_write(m["reply"]):
            session.write(m["data"])
            note_input(m["session"])

    async def on_resize(self, m) -> None:
        session = self.sessions.get(m["session"])
        if session is not None and session.can_write(m["reply"]):
            session.resize(int(m["rows"]), int(m["cols"]))

    async def on_ack(self, m) -> None:
        session = self.sessions.get(m["session"])
        if session is not None:
            received = m.get("received")
            session.ack(m["reply"], int(m["upto"]), None if received is None else int(received))

    async def on_resync(self, m) -> None:
        session = self.sessions.get(m["session"])
        if session is not None:
            session.resync(m["reply"])

    async def on_detach(self, m) -> None:
        session = self.sessions.get(m["session"])
        if session is not None:
            session.detach(m["reply"])

    async def on_close(self, m) -> None:
        session = self.sessions.get(m["session"])
        if session is not None and session.can_write(m["reply"]):
            session.terminate()

    async def on_logs_follow(self, m) -> None:
        ref = await self._checked(agent_checks.logs_target, m, ref=m.get("container"))
        if ref is None:
            return
        follower = self.followers.get(ref)
        if follower is None or follower.ended:
            follower = logrelay.LogFollower(ref, self.runtime, send=self.layer.send, on_done=self._logs_done)
            self.followers[ref] = follower
        await follower.subscribe(m["reply"])

    def _logs_done(self, ref: str) -> None:
        if self.followers.get(ref) is not None and self.followers[ref].ended:
            del self.followers[ref]

    async def on_logs_ack(self, m) -> None:
        follower = self.followers.get(m["container"])
        if follower is not None:
            follower.ack(m["reply"], int(m["upto"]))

    async def on_logs_stop(self, m) -> None:
        follower = self.followers.get(m["container"])
        if follower is not None:
            follower.unsubscribe(m["reply"])

    async def on_logs_dump(self, m) -> None:
        ref = await self._checked(agent_checks.logs_target, m, ref=m.get("container"))
        if ref is None:
            return
        loop = asyncio.get_running_loop()

        def send_blocking(message):
            asyncio.run_coroutine_threadsafe(self.layer.send(m["reply"], message), loop).result()

        threading.Thread(
            target=logrelay.dump, args=(self.runtime, ref, send_blocking), name="logs-dump", daemon=True
        ).start()


async def run(node_name: str) -> None:
    agent = ShellAgent(node_name, get_channel_layer(LAYER), Runtime(root=settings.TERRARIUM_ROOT))
    await agent.serve()
