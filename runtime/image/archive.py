"""Compressed archive input: format detection by magic bytes and a
decoding stream that enforces the import limits as the bytes flow.

Decompression, hashing and reading run in a background thread: ISA-L's
inflater, lzma, bz2, zstandard, hashlib and os.read all release the GIL, so
on a multi-core machine they overlap with the extractor writing files.
"""

import bz2
import gzip
import hashlib
import lzma
import os
import queue
import threading

import zstandard
from isal import igzip, isal_zlib

from runtime.errors import ImportFailed
from runtime.image.import_limits import ImportLimits
from runtime.image.tarstream import BLOCK, checksum_ok

CHUNK = 1 << 20

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def detect(head: bytes) -> str:
    """The compression of an archive from its first bytes: tar, gzip, xz, bzip2 or zstd."""
    if not head:
        raise ImportFailed("not an archive: the input is empty")
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    block = head[:512]
    if len(block) == 512 and (block[257:262] == b"ustar" or block == bytes(512) or checksum_ok(block)):
        return "tar"
    raise ImportFailed("not an archive: the input is not tar, gzip, xz, bzip2 or zstd")


def _read_head(src) -> bytes:
    read_some = getattr(src, "read1", src.read)
    head = b""
    while len(head) < 512:
        data = read_some(CHUNK)
        if not data:
            break
        head += data
    return head


class _Raw:
    """The compressed side: reads the source, counts and hashes every byte."""

    def __init__(self, src, head: bytes, limit: int):
        self.src, self.pending, self.limit = src, head, limit
        # A pipe must hand over what it has, not wait for a full chunk.
        self.read_some = getattr(src, "read1", src.read)
        self.total, self.hash = 0, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = CHUNK
        if self.pending:
            data, self.pending = self.pending[:n], self.pending[n:]
        else:
            data = self.read_some(n)
        self.total += len(data)
        if self.total > self.limit:
            raise ImportFailed(f"archive is larger than the {self.limit} byte limit")
        self.hash.update(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


def _decoder(compression: str, raw: _Raw):
    if compression == "gzip":
        # ISA-L inflates gzip about twice as fast as zlib, with the same checks (CRC, length, members).
        return igzip.IGzipFile(fileobj=raw, mode="rb")
    if compression == "xz":
        return lzma.LZMAFile(raw)
    if compression == "bzip2":
        return bz2.BZ2File(raw)
    if compression == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(raw, read_size=CHUNK, read_across_frames=True)
    return raw


def _nothing() -> None:
    pass


class DecodedStream:
    """The decompressed bytes of one archive, served to the tar reader.

    `read_exact` hands out small pieces (headers), `pour` writes a run of
    bytes straight from the decoded chunks to a file descriptor.
    """

    def __init__(self, src, limits: ImportLimits, *, hash_decoded: bool = False):
        head = _read_head(src)
        self.compression = detect(head)
        # Headers and padding come on top of the unpacked bytes: up to two blocks an entry.
        self._raw = _Raw(src, head, limits.max_bytes + 1024 * limits.max_entries + CHUNK)
        self._limits = limits
        self._decoded_hash = hashlib.sha256() if hash_decoded else None
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._stop = threading.Event()
        self._chunk = b""
        self._buf = memoryview(b"")
        self._pos = 0
        self.offset = 0
        self._eof = False
        # Called when the reader is about to wait for input (the extractor hands its queued files over).
        self.before_wait = _nothing
        self._thread = threading.Thread(target=self._produce, name="archive-decoder", daemon=True)
        self._thread.start()

    def _produce(self):
        try:
            decoder = _decoder(self.compression, self._raw)
            decoded = 0
            while not self._stop.is_set():
                chunk = decoder.read(CHUNK)
                if not chunk:
                    break
                decoded += len(chunk)
                if decoded > self._limits.ratio_floor_bytes and decoded > self._raw.total * self._limits.max_ratio:
                    raise ImportFailed(
                        f"compression ratio exceeds {self._limits.max_ratio:g}:1 (a decompression bomb?)")
                if self._decoded_hash is not None:
                    self._decoded_hash.update(chunk)
                self._queue.put(chunk)
            self._queue.put(b"")
        except BaseException as exc:
            if not self._stop.is_set():
                self._queue.put(_as_import_error(exc, self.compression))

    def _refill(self) -> bool:
        if self._eof:
            return False
        try:
            item = self._queue.get_nowait()
        except queue.Empty:
            self.before_wait()
            item = self._queue.get()
        if isinstance(item, BaseException):
            self._eof = True
            raise item
        if not item:
            self._eof = True
            return False
        self._chunk, self._buf, self._pos = item, memoryview(item), 0
        return True

    def header(self) -> bytes:
        """The next tar block, or b"" at the end of the input."""
        pos = self._pos
        end = pos + BLOCK
        if end <= len(self._chunk):
            self._pos = end
            self.offset += BLOCK
            return self._chunk[pos:end]
        if pos == len(self._chunk) and not self._refill():
            return b""
        return self.read_exact(BLOCK)

    def read_exact(self, n: int) -> bytes:
        return bytes(self.take(n))

    def take(self, n: int):
        """The next n bytes; a view into the decoded chunk, not a copy, when they lie within one."""
        end = self._pos + n
        if end <= len(self._buf):
            view = self._buf[self._pos:end]
            self._pos = end
            self.offset += n
            return view
        parts, need = [], n
        while need:
            if self._pos == len(self._buf) and not self._refill():
                raise ImportFailed("archive is truncated")
            take = min(need, len(self._buf) - self._pos)
            parts.append(self._buf[self._pos:self._pos + take])
            self._pos += take
            need -= take
        self.offset += n
        return b"".join(parts)

    def pour(self, n: int, fd: int) -> None:
        """Write the next n bytes to fd (or drop them if fd is -1), straight from the decoded chunks."""
        while n:
            if self._pos == len(self._chunk) and not self._refill():
                raise ImportFailed("archive is truncated")
            take = min(n, len(self._chunk) - self._pos)
            if fd >= 0:
                # Inline, not syscalls.write_all: the stream keeps clear of runtime.linux (no arrow into it).
                view = self._buf[self._pos:self._pos + take]
                while view:
                    view = view[os.write(fd, view):]
            self._pos += take
            self.offset += take
            n -= take

    def skip(self, n: int) -> None:
        end = self._pos + n
        if end <= len(self._chunk):
            self._pos = end
            self.offset += n
        else:
            self.pour(n, -1)

    def finish(self) -> tuple[str, str | None]:
        """Read to the end of the input; the sha256 of the raw and the decoded bytes."""
        while self._refill():
            self.offset += len(self._buf) - self._pos
            self._pos = len(self._buf)
        self._thread.join()
        decoded = self._decoded_hash.hexdigest() if self._decoded_hash is not None else None
        return self._raw.hash.hexdigest(), decoded

    def close(self) -> None:
        """Stop the decoder thread early (after a failure); it exits after its current read."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return


def _as_import_error(exc: BaseException, compression: str) -> BaseException:
    if isinstance(exc, EOFError):
        return ImportFailed(f"corrupt {compression} data: the stream ends early")
    if isinstance(exc, (lzma.LZMAError, zstandard.ZstdError, gzip.BadGzipFile, isal_zlib.error)) or (
            isinstance(exc, OSError) and exc.errno is None):
        text = str(exc).strip().splitlines()
        return ImportFailed(f"corrupt {compression} data: {text[0] if text else type(exc).__name__}")
    if isinstance(exc, OSError):
        return ImportFailed(f"cannot read the archive: {exc.strerror}")
    return exc
