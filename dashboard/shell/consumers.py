"""Browser sockets for shells and logs. They hold no terminal state: they
check who may connect, then relay between the socket and the node agent's
channel. Bytes go through untouched; the browser's acks go back to the
agent, so the agent (not this process) decides when to read more."""

import asyncio
import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import PermissionDenied
from django.http import Http404

from dashboard.classes.services import student_returned
from dashboard.revocation import Revalidating
from dashboard.shell.selectors import ShellUnavailable, logs_access, shell_access, shell_session_exit_code
from dashboard.shell.services import ShellLimitReached, shell_session_open
from dashboard.shell.wire import AGENT_REPLY_SECONDS, LAYER, AckLedger

CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_UNAVAILABLE = 4409
CLOSE_AGENT_ERROR = 4500
CLOSE_AGENT_SILENT = 4504
EARLY_INPUT_BYTES = 64 * 1024
ATTACH_RETRY_SECONDS = 1
# A suspended lab resumes through its node's runtime worker: as long as the lab's page waits for it.
RESUME_POLL_SECONDS = 0.5
RESUME_SECONDS = 60
MAX_SIZE = 1000


def _size(value, default: int) -> int:
    try:
        return min(max(int(value), 1), MAX_SIZE)
    except (TypeError, ValueError):
        return default


def _size_bytes(value) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


class _AgentRelay(Revalidating, AsyncWebsocketConsumer):
    """Authorization before accept; refusals carry only a close code."""

    channel_layer_alias = LAYER

    async def connect(self):
        try:
            self.access = await self.authorize()
        except (PermissionDenied, Http404, ShellUnavailable) as exc:
            await self.accept()
            await self.refuse(exc)
            return
        await self.accept()
        self.watch_access()
        await self.start()

    async def refuse(self, exc: Exception) -> None:
        if isinstance(exc, ShellUnavailable):
            await self.send_json({"type": "error", "message": str(exc)})
            await self.close(code=CLOSE_UNAVAILABLE)
        else:
            await self.close(code=CLOSE_FORBIDDEN if isinstance(exc, PermissionDenied) else CLOSE_NOT_FOUND)

    async def send_json(self, data: dict) -> None:
        await self.send(text_data=json.dumps(data))

    async def to_agent(self, message: dict) -> None:
        # Who asks goes along: the agent checks it against the database itself.
        await self.channel_layer.send(
            self.access.agent_channel, {**message, "reply": self.channel_name, "user": self.scope["user"].pk}
        )

    def control(self, text_data):
        try:
            data = json.loads(text_data)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


class ShellConsumer(_AgentRelay):
    key = None
    attached = False
    access = None
    _watchdog = None

    async def authorize(self):
        kwargs = self.scope["url_route"]["kwargs"]
        return await database_sync_to_async(shell_access)(
            user=self.scope["user"], container_id=kwargs["container_id"], session_key=kwargs.get("session")
        )

    async def start(self):
        self.early_input = bytearray()
        self.ledger = AckLedger()
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.size = _size(query.get("rows", [24])[0], 24), _size(query.get("cols", [80])[0], 80)
        if self.access.suspended:
            self._watchdog = asyncio.create_task(self._resume())
        else:
            await self._begin()

    async def _resume(self):
        """The user's own lab instance, suspended while idle, is resumed as its
        lab's page resumes it (the student is back); the shell opens once it runs."""
        await database_sync_to_async(student_returned)(container=self.access.container, student=self.scope["user"])
        await self.send_json({"type": "resuming"})
        for _ in range(int(RESUME_SECONDS / RESUME_POLL_SECONDS)):
            await asyncio.sleep(RESUME_POLL_SECONDS)
            try:
                access = await self.authorize()
            except (PermissionDenied, Http404, ShellUnavailable) as exc:
                await self.refuse(exc)
                return
            if not access.suspended:
                self.access = access
                await self._begin()
                return
        await self.refuse(ShellUnavailable("the lab did not resume"))

    async def _begin(self):
        rows, cols = self.size
        if self.access.session is None:
            try:
                session = await database_sync_to_async(shell_session_open)(
                    container=self.access.container, user=self.scope["user"]
                )
            except ShellLimitReached as exc:
                await self.send_json({"type": "error", "message": str(exc)})
                await self.close(code=CLOSE_UNAVAILABLE)
                return
            self.key = session.key
            request = {"type": "open", "rows": rows, "cols": cols}
        elif self.access.session.closed_at is not None:
            await self._finish(self.access.session.exit_code)
            return
        else:
            self.key = self.access.session.key
            request = {"type": "attach", "readonly": self.access.readonly}
        await self.to_shell(request)
        self._watchdog = asyncio.create_task(self._expect_agent(request))

    async def to_shell(self, message: dict) -> None:
        await self.to_agent({**message, "session": self.key})

    async def _expect_agent(self, request: dict):
        # Pub/sub delivers at most once: the request or its reply can be
        # lost, or the agent was not listening yet. Asking again is
        # harmless: the agent opens a session once, and an attach from the
        # same socket keeps its place.
        for _ in range(int(AGENT_REPLY_SECONDS / ATTACH_RETRY_SECONDS)):
            await asyncio.sleep(ATTACH_RETRY_SECONDS)
            await self.to_shell(request)
        await self.send_json({"type": "error", "message": "the container's node does not answer"})
        await self.close(code=CLOSE_AGENT_SILENT)

    async def receive(self, text_data=None, bytes_data=None):
        if self.key is None:
            return
        if bytes_data is not None:
            if self.access.readonly:
                return
            if self.attached:
                await self.to_shell({"type": "input", "data": bytes_data})
            elif len(self.early_input) + len(bytes_data) <= EARLY_INPUT_BYTES:
                self.early_input += bytes_data
            return
        data = self.control(text_data) or {}
        kind = data.get("type")
        if kind == "ack":
            upto = self.ledger.acked(_size_bytes(data.get("bytes")))
            if upto is not None:
                await self.to_shell({"type": "ack", "upto": upto})
        elif kind == "resize" and not self.access.readonly:
            rows, cols = _size(data.get("rows"), 24), _size(data.get("cols"), 80)
            await self.to_shell({"type": "resize", "rows": rows, "cols": cols})
        elif kind == "close" and not self.access.readonly:
            await self.to_shell({"type": "close"})

    def still_allowed(self, user) -> bool:
        if self.key is None:
            return True
        access = shell_access(user=user, container_id=self.access.container.pk, session_key=self.key)
        return access.readonly == self.access.readonly and not access.container.is_gone

    async def disconnect(self, code):
        self.stop_watching()
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.key is not None:
            await self.to_shell({"type": "detach"})

    async def shell_attached(self, event):
        if self.attached:
            # A retry of the request crossed the first reply: the agent counted
            # this replay in our stream too. Unaccounted, it would make the next
            # output look lost (a screen reset) and leave acks short of it.
            upto = self.ledger.skipped(len(event["replay"]), event["end"])
            if upto is not None:
                await self.to_shell({"type": "ack", "upto": upto})
            return
        self._watchdog.cancel()
        self.attached = True
        await self.send_json({"type": "session", "id": self.key, "readonly": event["readonly"]})
        self.ledger.begin(event["end"] - len(event["replay"]))
        if event["replay"]:
            self.ledger.forwarded(len(event["replay"]), event["end"])
            await self.send(bytes_data=event["replay"])
        if self.early_input:
            await self.to_shell({"type": "input", "data": bytes(self.early_input)})
            self.early_input.clear()

    async def shell_output(self, event):
        # Before the attach reply (lost, and asked for again) the replay
        # in that reply covers what would be shown.
        if not self.attached:
            return
        if not self.ledger.forwarded(len(event["data"]), event["end"]):
            await self.to_shell({"type": "resync"})
        await self.send(bytes_data=event["data"])

    async def shell_probe(self, event):
        await self.to_shell({"type": "ack", "upto": self.ledger.upto, "received": self.ledger.received})

    async def shell_exit(self, event):
        await self._finish(event["code"])

    async def shell_gone(self, event):
        code = event["code"]
        if code is None:
            code = await database_sync_to_async(shell_session_exit_code)(key=self.key)
        await self._finish(code)

    async def shell_error(self, event):
        self._watchdog.cancel()
        await self.send_json({"type": "error", "message": event["message"]})
        await self.close(code=CLOSE_AGENT_ERROR)

    async def _finish(self, code):
        if self._watchdog is not None:
            self._watchdog.cancel()
        await self.send_json({"type": "exit", "code": code})
        self.key = None
        await self.close(code=1000)


class LogsConsumer(_AgentRelay):
    access = None

    async def authorize(self):
        return await database_sync_to_async(logs_access)(
            user=self.scope["user"], container_id=self.scope["url_route"]["kwargs"]["container_id"]
        )

    async def start(self):
        self.ledger = AckLedger()
        await self.to_logs({"type": "logs.follow"})

    async def to_logs(self, message: dict) -> None:
        await self.to_agent({**message, "container": self.access.runtime_ref})

    async def receive(self, text_data=None, bytes_data=None):
        data = self.control(text_data) if text_data is not None else None
        if data is not None and data.get("type") == "ack":
            upto = self.ledger.acked(_size_bytes(data.get("bytes")))
            if upto is not None:
                await self.to_logs({"type": "logs.ack", "upto": upto})

    def still_allowed(self, user) -> bool:
        return not logs_access(user=user, container_id=self.access.container.pk).container.is_gone

    async def disconnect(self, code):
        self.stop_watching()
        if self.access is not None:
            await self.to_logs({"type": "logs.stop"})

    async def logs_start(self, event):
        await self.send_json({"type": "start"})
        if event["data"]:
            self.ledger.forwarded(len(event["data"]), event["end"])
            await self.send(bytes_data=event["data"])

    async def logs_data(self, event):
        self.ledger.forwarded(len(event["data"]), event["end"])
        await self.send(bytes_data=event["data"])

    async def logs_skipped(self, event):
        await self.send_json({"type": "skipped", "bytes": event["bytes"]})

    async def logs_end(self, event):
        await self.send_json({"type": "end"})
        await self.close(code=1000)
