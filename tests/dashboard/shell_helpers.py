"""A WebSocket client for the shell consumer, as a browser would drive it:
binary frames are keys and screen bytes, text frames are JSON, and every
byte shown is acknowledged."""

import asyncio
import json

from channels.testing import WebsocketCommunicator
from django.conf import settings

from dashboard.asgi import application

SCREEN_BYTES = 1 << 20


class ShellClient:
    def __init__(self, path: str, cookie: str | None):
        headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
        if cookie:
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        self.ws = WebsocketCommunicator(application, path, headers=headers)
        self.screen = b""
        self.frames = []
        self.keep_frames = False
        self.controls = []
        self.close_code = None

    async def connect(self):
        connected, _ = await self.ws.connect(timeout=10)
        assert connected
        return self

    async def next_frame(self, timeout=20):
        """One frame: bytes, a dict, or None when the server closed."""
        message = await self.ws.receive_output(timeout)
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
            return None
        if message.get("bytes") is not None:
            data = message["bytes"]
            # A bounded tail: a flood must not grow the test process itself.
            self.screen = (self.screen + data)[-SCREEN_BYTES:]
            if self.keep_frames:
                self.frames.append(data)
            await self.ws.send_to(text_data=json.dumps({"type": "ack", "bytes": len(data)}))
            return data
        control = json.loads(message["text"])
        self.controls.append(control)
        return control

    async def until(self, predicate, timeout=20):
        async with asyncio.timeout(timeout):
            while not predicate():
                if await self.next_frame(timeout) is None and not predicate():
                    raise AssertionError(f"closed with {self.close_code} before the condition held")

    async def session_id(self):
        await self.until(lambda: any(c.get("type") == "session" for c in self.controls))
        return next(c for c in self.controls if c.get("type") == "session")["id"]

    async def type(self, text: str):
        await self.ws.send_to(bytes_data=text.encode())

    async def control(self, **message):
        await self.ws.send_to(text_data=json.dumps(message))

    async def read_until(self, needle: bytes, timeout=20):
        await self.until(lambda: needle in self.screen, timeout)

    async def closed(self, timeout=20):
        async with asyncio.timeout(timeout):
            while self.close_code is None:
                await self.next_frame(timeout)
        return self.close_code

    async def disconnect(self):
        await self.ws.disconnect()


def shell_path(container, session: str | None = None, rows=24, cols=80) -> str:
    base = f"/ws/containers/{container.pk}/shell/"
    return f"{base}{session}/?rows={rows}&cols={cols}" if session else f"{base}?rows={rows}&cols={cols}"
