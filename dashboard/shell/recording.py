"""Lab shells' recordings on the node (the agent, root, owns the PTYs).

A Recorder turns one shell's output into an asciicast v2 file (a JSON
header line, then `[seconds, "o", text]` and `[seconds, "r", "COLSxROWS"]`
events). Events are kept in memory and handed, FLUSH_SECONDS later or
once BUFFER_BYTES pile up, to one writer thread per agent: a disk that
stalls (ext4 waiting on its journal while another process writes a lot)
never holds the loop, so an echo never waits for the disk. At
settings.RECORDING_MAX_BYTES the file ends with a marker event (`"m"`)
saying so, and nothing more is written.

NodeRecordings is the agent's side: it starts a Recorder for a session
whose container is a lab instance's, streams a file to a reader the
database allows, and removes the files whose rows are gone."""

import asyncio
import codecs
import json
import logging
import os
import queue
import re
import threading
import time
from concurrent.futures import Future
from datetime import datetime, timezone
from pathlib import Path

from channels.db import database_sync_to_async
from django.conf import settings

from dashboard.shell import agent_checks, selectors, services

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
BUFFER_BYTES = 64 * 1024
CHUNK_BYTES = 256 * 1024
# Room kept below the cap for the final marker event.
MARKER_ROOM = 256
KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
SUFFIX = ".cast"


def recording_dir() -> Path:
    directory = Path(settings.RECORDING_DIR)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    return directory


def recording_path(key: str) -> Path:
    if not KEY.fullmatch(key):
        raise ValueError(f"not a session key: {key!r}")
    return recording_dir() / (key + SUFFIX)


class _Writer:
    """Runs the recordings' writes and closes in order, in a thread of its own."""

    def __init__(self):
        self._queue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread = None

    def submit(self, fn, *args) -> Future:
        future = Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="recordings-writer", daemon=True)
                self._thread.start()
        self._queue.put((fn, args, future))
        return future

    def _run(self) -> None:
        while True:
            fn, args, future = self._queue.get()
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)


WRITER = _Writer()


class Recorder:
    def __init__(self, path: Path, *, rows: int, cols: int, title: str, max_bytes: int, on_close=None):
        self.started_at = time.time()
        self._t0 = time.monotonic()
        self._loop = asyncio.get_running_loop()
        self._path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buffer = bytearray()
        self._flush_handle = None
        self._max_bytes = max_bytes
        self._on_close = on_close
        self.capped = False
        self._failed = False
        self.size = 0
        header = {"version": 2, "width": cols, "height": rows, "timestamp": int(self.started_at),
                  "title": title, "env": {"TERM": "xterm-256color"}}
        self._append(json.dumps(header, ensure_ascii=False))
        self.flush()

    @property
    def recording(self) -> bool:
        return self._fd is not None and not self.capped and not self._failed

    def output(self, data: bytes) -> None:
        if self.recording:
            text = self._decoder.decode(data)
            if text:
                self._event("o", text)

    def resize(self, rows: int, cols: int) -> None:
        if self.recording:
            self._event("r", f"{cols}x{rows}")

    def close(self) -> None:
        """Writes what is left and closes the file; on_close runs once it is all on disk."""
        if self._fd is None:
            return
        if self.recording:
            tail = self._decoder.decode(b"", final=True)
            if tail:
                self._event("o", tail)
        self.flush()
        fd, self._fd = self._fd, None
        closed = WRITER.submit(os.close, fd)
        if self._on_close is not None:
            closed.add_done_callback(lambda _: self._loop.call_soon_threadsafe(self._on_close, self))

    def flush(self) -> Future | None:
        """Hands the buffer to the writer; the Future is done once it is written."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._fd is None:
            return None
        data = bytes(self._buffer)
        self._buffer.clear()
        return WRITER.submit(self._write, self._fd, data)

    def _write(self, fd: int, data: bytes) -> None:
        """In the writer's thread. A full or failing disk ends the recording,
        never the shell; `size` then counts only what was written."""
        if self._failed:
            self._loop.call_soon_threadsafe(self._lose, len(data))
            return
        written = 0
        try:
            with memoryview(data) as view:
                while written < len(view):
                    written += os.write(fd, view[written:])
        except OSError as exc:
            log.warning("recording %s stopped: %s", self._path.name, exc)
            self._failed = True
            self._loop.call_soon_threadsafe(self._lose, len(data) - written)
            self._loop.call_soon_threadsafe(self.close)

    def _lose(self, unwritten: int) -> None:
        self.size -= unwritten

    def _event(self, kind: str, payload: str) -> None:
        elapsed = round(time.monotonic() - self._t0, 6)
        line = json.dumps([elapsed, kind, payload], ensure_ascii=False).encode() + b"\n"
        if self.size + len(line) + MARKER_ROOM > self._max_bytes:
            self.capped = True
            limit = f"{self._max_bytes / 1048576:g} MiB" if self._max_bytes >= 1048576 else f"{self._max_bytes} bytes"
            self._append(json.dumps([elapsed, "m", f"recording stopped: it reached its limit of {limit}"]))
            self.flush()
            return
        self._buffer += line
        self.size += len(line)
        if len(self._buffer) >= BUFFER_BYTES:
            self.flush()
        elif self._flush_handle is None:
            self._flush_handle = self._loop.call_later(FLUSH_SECONDS, self.flush)

    def _append(self, line: str) -> None:
        encoded = line.encode() + b"\n"
        self._buffer += encoded
        self.size += len(encoded)


class NodeRecordings:
    def __init__(self, node_name: str, layer):
        self.node_name = node_name
        self.layer = layer
        self.active: dict[str, Recorder] = {}

    def handlers(self) -> dict:
        return {"recording.dump": self.on_dump, "recording.forget": self.on_forget}

    async def start(self, key: str, *, rows: int, cols: int) -> Recorder | None:
        """A Recorder for session `key` when its container is a lab instance's,
        else None. A recording that cannot start leaves the shell unrecorded,
        never refused."""
        try:
            return await self._start(key, rows=rows, cols=cols)
        except Exception:
            log.exception("shell %s: not recorded", key)
            return None

    async def _start(self, key: str, *, rows: int, cols: int) -> Recorder | None:
        title = await database_sync_to_async(selectors.recording_title)(key=key)
        if title is None:
            return None
        recorder = Recorder(recording_path(key), rows=rows, cols=cols, title=title,
                            max_bytes=settings.RECORDING_MAX_BYTES, on_close=lambda r: self._closed(key, r))
        self.active[key] = recorder
        started = datetime.fromtimestamp(recorder.started_at, tz=timezone.utc)
        row = None
        try:
            row = await database_sync_to_async(services.recording_begin)(
                key=key, node_name=self.node_name, started_at=started)
        finally:
            if row is None:
                recorder.close()
                recording_path(key).unlink(missing_ok=True)
        return recorder

    def _closed(self, key: str, recorder: Recorder) -> None:
        self.active.pop(key, None)
        asyncio.ensure_future(database_sync_to_async(services.recording_end)(
            key=key, size_bytes=recorder.size, capped=recorder.capped))

    async def sweep(self) -> None:
        """At the agent's start: files whose rows are gone (deleted while it
        was away) go too, and recordings its last run left open end where
        their files end. Never raises: the agent's sweeper goes on after it."""
        try:
            await self._sweep()
        except Exception:
            log.exception("recordings: the start-up sweep failed")

    async def _sweep(self) -> None:
        rows = await database_sync_to_async(selectors.recording_ends_on_node)(node_name=self.node_name)
        left_open = {}
        for path in recording_dir().glob("*" + SUFFIX):
            key = path.name[: -len(SUFFIX)]
            if key not in rows:
                path.unlink(missing_ok=True)
            elif rows[key] is None and key not in self.active:
                st = path.stat()
                left_open[key] = (datetime.fromtimestamp(st.st_mtime, tz=timezone.utc), st.st_size)
        await database_sync_to_async(services.recordings_end_left_open)(ends=left_open)

    async def on_forget(self, m) -> None:
        """A row was deleted: its file goes, unless a row still names it (a forged message)."""
        key = str(m.get("key", ""))
        if not KEY.fullmatch(key):
            return
        if await database_sync_to_async(selectors.recording_exists)(key=key):
            log.warning("recordings: refused to forget %s, which still has its row", key)
            return
        recorder = self.active.pop(key, None)
        if recorder is not None:
            recorder.close()
        recording_path(key).unlink(missing_ok=True)

    async def on_dump(self, m) -> None:
        """The file in chunks to `reply`, each with its offset, then an end."""
        reply = m.get("reply")
        try:
            key = await database_sync_to_async(agent_checks.recording_target)(
                recording_id=m.get("recording"), user_id=m.get("user"), node_name=self.node_name)
        except agent_checks.Refused as exc:
            log.warning("recordings: refused a dump: %s", exc)
            if isinstance(reply, str):
                await self.layer.send(reply, {"type": "recording.end", "error": "refused by the node"})
            return
        written = self.active[key].flush() if key in self.active else None
        if written is not None:
            await asyncio.wrap_future(written)
        offset = 0
        try:
            with open(recording_path(key), "rb") as f:
                while chunk := await asyncio.to_thread(f.read, CHUNK_BYTES):
                    await self.layer.send(reply, {"type": "recording.chunk", "offset": offset, "data": chunk})
                    offset += len(chunk)
        except OSError as exc:
            await self.layer.send(reply, {"type": "recording.end", "error": exc.strerror or str(exc)})
            return
        await self.layer.send(reply, {"type": "recording.end", "size": offset})
