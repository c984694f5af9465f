"""One shell's PTY on the node: reads the master into the replay buffer and
out to every attached viewer, and writes keyboard input.

Flow control is per viewer, in bytes (viewer.py). Reading pauses while a
writing viewer's window is full, so a flood stays in the kernel's PTY
buffer (where it blocks the writer) instead of in a queue of ours. A
read-only viewer never holds the shell: when its window is full it skips
output, and once it has caught up it is resynced from the replay buffer."""

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections import deque

from dashboard.shell.ring import ReplayBuffer
from dashboard.shell.viewer import Viewer
from dashboard.shell.wire import FRAME_BYTES, INPUT_PENDING_BYTES, READ_BYTES, REPLAY_BYTES, RESET, WINDOW_BYTES

log = logging.getLogger(__name__)

KILL_AFTER_HUP_SECONDS = 5
# A viewer that owes acks and has acknowledged nothing for this long is
# asked where it stands; its answer repairs a lost ack or lost output.
PROBE_SECONDS = 1.0
# A writing viewer silent this long stops holding the shell for the others.
STALL_SECONDS = 10.0
# Output read within this long of the previous read means the program is
# still printing: it waits until this long after its first byte (or a full
# frame) for more, so a flood of short lines travels in a few messages
# instead of one per line. Output after a pause (an echo, a prompt) goes
# out at once. Measured with bench/shell_latency.py: 2 ms takes busybox
# yes's frames from a median of 90-300 bytes to 2-3 KiB.
COALESCE_SECONDS = 0.002
# Reads this large mean bulk output, however far apart a busy agent reads
# them: it waits up to BULK_SECONDS for a full frame, as fewer, larger
# messages are what raw output's MB/s needs.
STREAMING_READ_BYTES = 2048
BULK_SECONDS = 0.005


class PtySession:
    def __init__(self, key: str, process, *, send, on_end, grace_seconds: float, recorder=None):
        """process: a runtime ExecSession (pid, fd, resize, wait, kill).
        send(channel, message) is awaited in order; on_end(key, code) runs
        once the exit has been delivered. recorder: a lab shell's
        recording.Recorder, handed all output and resizes."""
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
        self._recorder = recorder
        self.viewers: dict[str, Viewer] = {}
        # Output read but not yet sent, from offset _pending_at of the
        # session's output; bounded by WINDOW_BYTES (reading pauses).
        self._pending = bytearray()
        self._pending_at = 0
        self._produced = 0
        self._last_read_at = 0.0
        self._last_read = 0
        self._streaming = False
        self._pending_since = 0.0
        self._control = deque()
        self._wake = asyncio.Event()
        self._batch_ready = asyncio.Event()
        self._reading = False
        self._eof = False
        self._input = bytearray()
        self._writing = False
        self._grace = None
        self._kill_timer = None
        self._watch = None
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
        viewer.at = self._produced
        replay = self._ring.snapshot()
        end = viewer.sent(len(replay)) if replay else viewer.sent_total
        message = {"type": "shell.attached", "session": self.key, "readonly": readonly, "replay": replay, "end": end}
        self._queue(channel, message)
        self._update_reading()

    def detach(self, channel: str) -> None:
        if self.viewers.pop(channel, None) is None:
            return
        if not self.viewers:
            self._drop_pending()
            if self.exit_code is None and self._grace is None:
                self._grace = self._loop.call_later(self._grace_seconds, self.terminate)
        self._update_reading()

    def ack(self, channel: str, upto: int, received: int | None = None) -> None:
        """received, in answer to a probe: where the viewer's stream ended
        when it answered. Short of what had been sent: output was lost."""
        viewer = self.viewers.get(channel)
        if viewer is None:
            return
        progressed = viewer.acked(upto)
        if received is not None:
            lost = viewer.probed is not None and received < viewer.probed
            viewer.probed = None
            if lost:
                self.resync(channel)
                return
        # Only a viewer that shows it is reading again gets the replay: the
        # answers of a frozen tab to every probe would each earn another one.
        room = viewer.unacked + len(RESET) + len(self._ring) <= WINDOW_BYTES
        if viewer.behind and progressed and room:
            self._resync(channel, viewer)
        self._update_reading()

    def resync(self, channel: str) -> None:
        """The viewer missed output on the way: its screen restarts from the replay."""
        viewer = self.viewers.get(channel)
        if viewer is not None:
            viewer.forgive()
            self._resync(channel, viewer)
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
            if self._recorder is not None:
                self._recorder.resize(rows, cols)

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

    def _queue(self, channel: str, message: dict) -> None:
        self._control.append((channel, message))
        self._wake.set()

    def _resync(self, channel: str, viewer: Viewer) -> None:
        viewer.behind = False
        viewer.at = self._produced
        replay = RESET + self._ring.snapshot()
        self._queue(channel, {"type": "shell.output", "data": replay, "end": viewer.sent(len(replay))})

    def _holds(self, viewer: Viewer) -> bool:
        owed = viewer.unacked + self._produced - viewer.at
        return not viewer.readonly and not viewer.behind and owed >= WINDOW_BYTES

    def _update_reading(self) -> None:
        want = (
            not self._eof
            and self.exit_code is None
            and len(self._pending) < WINDOW_BYTES
            and not any(self._holds(v) for v in self.viewers.values())
        )
        if want and not self._reading:
            self._loop.add_reader(self._fd, self._readable)
        elif not want and self._reading:
            self._loop.remove_reader(self._fd)
            self._batch_ready.set()
        self._reading = want

    def _readable(self) -> None:
        now = time.monotonic()
        recent = now - self._last_read_at < COALESCE_SECONDS
        self._last_read_at = now
        # Everything the PTY holds now, up to a frame: one wake-up of the
        # sender for it rather than one per line the program wrote.
        while len(self._pending) < FRAME_BYTES:
            try:
                data = os.read(self._fd, READ_BYTES)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                # EIO: every slave fd is closed; the waiter thread reports the exit.
                self._eof = True
                break
            self._last_read = len(data)
            self._output(data, now)
            # A viewer's window is full: reading more now would hold up to a
            # frame past it for every slow viewer, not one read.
            if not self.viewers or any(self._holds(v) for v in self.viewers.values()):
                break
        self._streaming = recent or self._last_read >= STREAMING_READ_BYTES
        self._update_reading()

    def _output(self, data: bytes, now: float) -> None:
        self._ring.append(data)
        self._produced += len(data)
        if self._recorder is not None:
            self._recorder.output(data)
        if not self.viewers:
            self._drop_pending()
            return
        if not self._pending:
            self._pending_since = now
        self._pending += data
        if len(self._pending) >= FRAME_BYTES:
            self._batch_ready.set()
        self._wake.set()

    def _drop_pending(self) -> None:
        self._pending.clear()
        self._pending_at = self._produced

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
            self._output(data, time.monotonic())
        self.exit_code = code
        for handle in (self._grace, self._kill_timer, self._watch):
            if handle is not None:
                handle.cancel()
        self._process.close()
        if self._recorder is not None:
            self._recorder.close()
        self._batch_ready.set()
        self._wake.set()

    def _stop_io(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False
        if self._writing:
            self._loop.remove_writer(self._fd)
            self._writing = False
        self._input.clear()

    async def _deliver(self) -> None:
        while self.exit_code is None or self._control or self._pending:
            await self._wake.wait()
            self._wake.clear()
            while self._control or self._pending:
                if self._control:
                    await self._send_to(*self._control.popleft())
                else:
                    await self._batch()
                    await self._send_output()
        for channel in list(self.viewers):
            await self._send_to(channel, {"type": "shell.exit", "code": self.exit_code})
        await self._on_end(self.key, self.exit_code)
        self.ended.set()

    async def _batch(self) -> None:
        if not self._streaming or len(self._pending) >= FRAME_BYTES or not self._reading:
            return
        wait = BULK_SECONDS if self._last_read >= STREAMING_READ_BYTES else COALESCE_SECONDS
        delay = self._pending_since + wait - time.monotonic()
        if delay <= 0:
            return
        self._batch_ready.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._batch_ready.wait(), delay)

    async def _send_output(self) -> None:
        chunk = bytes(self._pending[:FRAME_BYTES])
        del self._pending[: len(chunk)]
        start = self._pending_at
        self._pending_at = end = start + len(chunk)
        for channel, viewer in list(self.viewers.items()):
            if viewer.at >= end:
                continue
            part = chunk[max(0, viewer.at - start) :]
            viewer.at = end
            if viewer.behind:
                continue
            if viewer.readonly and viewer.unacked + len(part) > WINDOW_BYTES and self.exit_code is None:
                viewer.behind = True
                continue
            await self._send_to(channel, {"type": "shell.output", "data": part, "end": viewer.sent(len(part))})
        self._arm_watch()
        self._update_reading()

    async def _send_to(self, channel: str, message: dict) -> None:
        try:
            await self._send(channel, message)
        except Exception:
            log.warning("shell %s: cannot reach %s; detaching it", self.key, channel, exc_info=True)
            self.detach(channel)

    def _arm_watch(self) -> None:
        if self._watch is None and self.exit_code is None and any(v.unacked for v in self.viewers.values()):
            self._watch = self._loop.call_later(PROBE_SECONDS, self._check)

    def _check(self) -> None:
        self._watch = None
        now = time.monotonic()
        for channel, viewer in self.viewers.items():
            silent = now - viewer.progress
            if not viewer.unacked or silent < PROBE_SECONDS:
                continue
            viewer.probed = viewer.sent_total
            self._queue(channel, {"type": "shell.probe"})
            if silent >= STALL_SECONDS and not viewer.readonly and not viewer.behind:
                log.info("shell %s: %s acknowledges nothing; it skips output from now", self.key, channel)
                viewer.behind = True
        self._update_reading()
        self._arm_watch()
