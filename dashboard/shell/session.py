"""One shell's PTY on the node: reads the master into the replay buffer and
out to every attached viewer, writes keyboard input, and pauses reading
while any viewer's window is full, so a flood stays in the kernel's PTY
buffer (where it blocks the writer) instead of in a queue of ours."""

import asyncio
import logging
import os
import signal
import threading
import time
from collections import deque

from channels.exceptions import ChannelFull

from dashboard.shell.ring import ReplayBuffer
from dashboard.shell.wire import INPUT_PENDING_BYTES, READ_BYTES, REPLAY_BYTES, WINDOW_BYTES, WINDOW_FRAMES

log = logging.getLogger(__name__)

KILL_AFTER_HUP_SECONDS = 5
FULL_RETRY_DELAYS = [0.005 * 2**i for i in range(10)]


class Viewer:
    """A browser socket attached to the session, seen through its window.
    Acks name an offset, so a frame lost on the way is covered by the next
    one acknowledged instead of holding the window forever."""

    def __init__(self, readonly: bool):
        self.readonly = readonly
        self.sent_total = 0
        self.acked_total = 0
        self.frames = deque()
        self.waiting_since = None

    @property
    def unacked(self) -> int:
        return self.sent_total - self.acked_total

    @property
    def full(self) -> bool:
        return self.unacked >= WINDOW_BYTES or len(self.frames) >= WINDOW_FRAMES

    def sent(self, nbytes: int) -> int:
        if not self.frames:
            self.waiting_since = time.monotonic()
        self.sent_total += nbytes
        self.frames.append(self.sent_total)
        return self.sent_total

    def acked(self, upto: int) -> None:
        self.acked_total = max(self.acked_total, min(upto, self.sent_total))
        while self.frames and self.frames[0] <= self.acked_total:
            self.frames.popleft()
        self.waiting_since = time.monotonic() if self.frames else None


class PtySession:
    def __init__(self, key: str, process, *, send, on_end, grace_seconds: float):
        """process: a runtime ExecSession (pid, fd, resize, wait, kill).
        send(channel, message) is awaited in order; on_end(key, code) runs
        once the exit has been delivered."""
        self.key = key
        self.exit_code = None
        self._process = process
        self._fd = process.fd
        os.set_blocking(self._fd, False)
        self._send = send
        self._on_end = on_end
        self._grace_seconds = grace_seconds
        self._loop = asyncio.get_running_loop()
        self._ring = ReplayBuffer(REPLAY_BYTES)
        self.viewers: dict[str, Viewer] = {}
        # Bounded by the viewers' windows: nothing is queued for a full viewer.
        self._outbox: asyncio.Queue = asyncio.Queue()
        self._reading = False
        self._eof = False
        self._input = bytearray()
        self._writing = False
        self._grace = None
        self._kill_timer = None
        self.ended = asyncio.Event()
        self._sender = asyncio.create_task(self._deliver())
        threading.Thread(target=self._wait, name=f"shell-wait-{key[:8]}", daemon=True).start()
        self._update_reading()

    def attach(self, channel: str, *, readonly: bool) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        # A repeated attach (its reply was lost) keeps the window it has.
        viewer = self.viewers.setdefault(channel, Viewer(readonly))
        replay = self._ring.snapshot()
        end = viewer.sent(len(replay)) if replay else viewer.sent_total
        message = {"type": "shell.attached", "session": self.key, "readonly": readonly, "replay": replay, "end": end}
        self._outbox.put_nowait((channel, message))
        self._update_reading()

    def detach(self, channel: str) -> None:
        if self.viewers.pop(channel, None) is None:
            return
        if not self.viewers and self.exit_code is None and self._grace is None:
            self._grace = self._loop.call_later(self._grace_seconds, self.terminate)
        self._update_reading()

    def ack(self, channel: str, upto: int) -> None:
        viewer = self.viewers.get(channel)
        if viewer is not None:
            viewer.acked(upto)
            self._update_reading()

    def drop_stale(self, older_than: float) -> None:
        """Forget viewers that stopped acknowledging (their web process went
        away without saying so), so reading and the grace clock resume."""
        now = time.monotonic()
        for channel, viewer in list(self.viewers.items()):
            if viewer.waiting_since is not None and now - viewer.waiting_since > older_than:
                log.info("shell %s: dropping silent viewer %s", self.key, channel)
                self.detach(channel)

    def can_write(self, channel: str) -> bool:
        viewer = self.viewers.get(channel)
        return viewer is not None and not viewer.readonly

    def write(self, data: bytes) -> None:
        if self.exit_code is not None or len(self._input) + len(data) > INPUT_PENDING_BYTES:
            return
        self._input += data
        self._flush_input()

    def resize(self, rows: int, cols: int) -> None:
        if self.exit_code is None:
            self._process.resize(rows, cols)

    def terminate(self) -> None:
        self._grace = None
        if self.exit_code is not None:
            return
        self._signal(signal.SIGHUP)
        self._kill_timer = self._loop.call_later(KILL_AFTER_HUP_SECONDS, self._signal, signal.SIGKILL)

    def _signal(self, sig) -> None:
        if self.exit_code is None:
            try:
                self._process.kill(sig)
            except Exception:
                log.exception("shell %s: kill(%s) failed", self.key, sig)

    def _update_reading(self) -> None:
        want = not self._eof and self.exit_code is None and not any(v.full for v in self.viewers.values())
        if want and not self._reading:
            self._loop.add_reader(self._fd, self._readable)
        elif not want and self._reading:
            self._loop.remove_reader(self._fd)
        self._reading = want

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            # EIO: every slave fd is closed; the waiter thread reports the exit.
            self._eof = True
            self._update_reading()
            return
        self._fan_out(data)
        self._update_reading()

    def _fan_out(self, data: bytes) -> None:
        self._ring.append(data)
        for channel, viewer in self.viewers.items():
            end = viewer.sent(len(data))
            self._outbox.put_nowait((channel, {"type": "shell.output", "data": data, "end": end}))

    def _flush_input(self) -> None:
        while self._input:
            try:
                written = os.write(self._fd, self._input)
            except BlockingIOError:
                break
            except OSError:
                self._input.clear()
                break
            del self._input[:written]
        if self._input and not self._writing:
            self._loop.add_writer(self._fd, self._flush_input)
        elif not self._input and self._writing:
            self._loop.remove_writer(self._fd)
        self._writing = bool(self._input)

    def _wait(self) -> None:
        try:
            code = self._process.wait()
        except Exception:
            log.exception("shell %s: wait failed", self.key)
            code = -1
        self._loop.call_soon_threadsafe(self._exited, code)

    def _exited(self, code: int) -> None:
        self._stop_io()
        # What the shell printed last is still in the PTY; a bounded tail of
        # it goes out even to full viewers so the final screen is complete.
        for _ in range(16):
            try:
                data = os.read(self._fd, READ_BYTES)
            except OSError:
                break
            if not data:
                break
            self._fan_out(data)
        self.exit_code = code
        for handle in (self._grace, self._kill_timer):
            if handle is not None:
                handle.cancel()
        self._process.close()
        for channel in self.viewers:
            self._outbox.put_nowait((channel, {"type": "shell.exit", "code": code}))
        self._outbox.put_nowait(None)

    def _stop_io(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False
        if self._writing:
            self._loop.remove_writer(self._fd)
            self._writing = False
        self._input.clear()

    async def _deliver(self) -> None:
        while (item := await self._outbox.get()) is not None:
            channel, message = item
            for delay in FULL_RETRY_DELAYS:
                try:
                    await self._send(channel, message)
                    break
                except ChannelFull:
                    # All sockets of one web process share one inbox; it is
                    # behind for a moment, and our windows bound what waits.
                    await asyncio.sleep(delay)
                except Exception:
                    log.warning("shell %s: cannot reach %s; detaching it", self.key, channel, exc_info=True)
                    self.detach(channel)
                    break
            else:
                log.warning("shell %s: %s stays full; detaching it", self.key, channel)
                self.detach(channel)
        await self._on_end(self.key, self.exit_code)
        self.ended.set()
