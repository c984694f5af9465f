"""The container main process's output, relayed from the node's log file.

One follower per container reads Runtime.logs(follow=True) in a thread and
fans batches out to the viewers; a viewer whose window is full misses
batches (it is told how many bytes) rather than holding the others back.
Batches travel as bytes: records of [stream byte][4-byte length][data]."""

import asyncio
import concurrent.futures
import logging
import struct
import threading
from collections import deque

from dashboard.shell.viewer import Viewer
from runtime import TerrariumError
from dashboard.shell.wire import LOG_TAIL_BYTES, READ_BYTES

log = logging.getLogger(__name__)

STREAMS = {"stdout": 1, "stderr": 2}
HANDOFF_ENTRIES = 256
IDLE = "idle"
# As a shell's output (session.COALESCE_SECONDS): entries that follow the
# previous batch this closely wait this long after their first for more,
# so a chatty program's lines travel together; a line after a pause does not wait.
COALESCE_SECONDS = 0.002
NOTHING = object()


def encode(entries) -> bytes:
    return b"".join(
        struct.pack(">BI", STREAMS.get(e["stream"], 1), len(e["data"])) + e["data"] for e in entries
    )


class LogFollower:
    def __init__(self, ref: str, runtime, *, send, on_done):
        self._ref = ref
        self._runtime = runtime
        self._send = send
        self._on_done = on_done
        self._loop = asyncio.get_running_loop()
        self._handoff: asyncio.Queue = asyncio.Queue(maxsize=HANDOFF_ENTRIES)
        self._tail = deque()
        self._tail_bytes = 0
        self._last_t = None
        self._wanted = True
        self.ended = False
        self.viewers: dict[str, Viewer] = {}
        self._skipped: dict[str, int] = {}
        self._start_reader()
        self._last_batch_at = 0.0
        self._task = asyncio.create_task(self._pump())

    async def subscribe(self, channel: str) -> None:
        self._wanted = True
        viewer = Viewer(readonly=True)
        tail = encode(self._tail)
        end = viewer.sent(len(tail)) if tail else 0
        self.viewers[channel] = viewer
        self._skipped[channel] = 0
        await self._send(channel, {"type": "logs.start", "data": tail, "end": end})

    def unsubscribe(self, channel: str) -> None:
        self.viewers.pop(channel, None)
        self._skipped.pop(channel, None)
        if not self.viewers:
            self._wanted = False

    def ack(self, channel: str, upto: int) -> None:
        if channel in self.viewers:
            self.viewers[channel].acked(upto)

    def _start_reader(self) -> None:
        threading.Thread(target=self._read, name=f"logs-{self._ref}", daemon=True).start()

    def _read(self) -> None:
        skip_until = self._last_t
        end = None
        try:
            for entry in self._runtime.logs(self._ref, follow=True):
                if skip_until is not None and entry["t"] <= skip_until:
                    continue
                if not self._hand_over(entry):
                    return
                # Idle followers stop at their next entry rather than polling
                # a quiet file forever; a returning viewer restarts them.
                if not self._wanted:
                    end = IDLE
                    break
        except TerrariumError as exc:
            log.info("logs of %s: %s", self._ref, exc)
        except Exception:
            log.exception("logs of %s: follow failed", self._ref)
        self._hand_over(end)

    def _hand_over(self, item) -> bool:
        """Blocks this thread while the handoff queue is full; False once the
        agent's loop is gone (shutdown)."""
        put = self._handoff.put(item)
        try:
            future = asyncio.run_coroutine_threadsafe(put, self._loop)
        except RuntimeError:
            put.close()
            return False
        while True:
            try:
                future.result(timeout=1)
                return True
            except TimeoutError:
                if self._loop.is_closed():
                    return False
            except concurrent.futures.CancelledError:
                return False

    async def _pump(self) -> None:
        held = NOTHING
        while True:
            entry = await self._handoff.get() if held is NOTHING else held
            if entry == IDLE and self.viewers:
                self._start_reader()
                held = NOTHING
                continue
            if entry is None or entry == IDLE:
                break
            batch, held = await self._gather(entry)
            self._remember(batch)
            await self._deliver(encode(batch))
            self._last_batch_at = self._loop.time()
        self.ended = True
        for channel in list(self.viewers):
            await self._send(channel, {"type": "logs.end"})
        self._on_done(self._ref)

    async def _gather(self, entry):
        """The batch that starts with entry, and the end marker that stopped it (or NOTHING)."""
        batch, size = [entry], len(entry["data"])
        first_at = self._loop.time()
        streaming = first_at - self._last_batch_at < COALESCE_SECONDS
        while size < READ_BYTES:
            if not self._handoff.empty():
                more = self._handoff.get_nowait()
            else:
                remaining = first_at + COALESCE_SECONDS - self._loop.time()
                if not streaming or remaining <= 0:
                    break
                try:
                    more = await asyncio.wait_for(self._handoff.get(), remaining)
                except TimeoutError:
                    break
            if more is None or more == IDLE:
                return batch, more
            batch.append(more)
            size += len(more["data"])
        return batch, NOTHING

    def _remember(self, batch) -> None:
        self._last_t = batch[-1]["t"]
        for entry in batch:
            self._tail.append(entry)
            self._tail_bytes += len(entry["data"])
        while self._tail_bytes > LOG_TAIL_BYTES and len(self._tail) > 1:
            self._tail_bytes -= len(self._tail.popleft()["data"])

    async def _deliver(self, data: bytes) -> None:
        for channel, viewer in list(self.viewers.items()):
            if viewer.full:
                self._skipped[channel] += len(data)
                continue
            if self._skipped[channel]:
                await self._send(channel, {"type": "logs.skipped", "bytes": self._skipped[channel]})
                self._skipped[channel] = 0
            end = viewer.sent(len(data))
            await self._send(channel, {"type": "logs.data", "data": data, "end": end})


def dump(runtime, ref: str, send_blocking) -> None:
    """The whole log (both files) as chunks to one reader; runs in a thread."""
    chunk = bytearray()
    try:
        for entry in runtime.logs(ref, follow=False):
            chunk += entry["data"]
            if len(chunk) >= READ_BYTES:
                send_blocking({"type": "logs.chunk", "data": bytes(chunk)})
                chunk.clear()
        if chunk:
            send_blocking({"type": "logs.chunk", "data": bytes(chunk)})
        send_blocking({"type": "logs.end"})
    except Exception as exc:
        log.warning("logs of %s: dump failed: %s", ref, exc)
        send_blocking({"type": "logs.end", "error": str(exc)})
