"""Regular files of a layer written by a few threads while the main thread
reads on through the archive.

On a tree of small files an import is a Python loop around five system
calls per file (open, write, chmod, utime, close). The calls release the
GIL, so while the main thread parses the next headers, threads here create,
fill, own and date the files before them, a batch at a time.

Only files the extractor knows to be new come here: nothing is at their
path and their parent directory is open. Such a file depends on nothing
but that directory's fd, which the extractor keeps open until it has waited
for every batch (`wait_all`); an entry that reuses a path still being
written, or hardlinks to it, waits for that path first (`wait_for`)."""

import collections
from concurrent.futures import ThreadPoolExecutor

# Two: with three, an import into tmpfs took 10-30 % longer than with two on this 2-core machine (more GIL
# hand-overs, no more overlap).
THREADS = 2
# What one batch holds: a thread's work between two hand-overs.
BATCH_FILES = 64
BATCH_BYTES = 1 << 20
# What may wait unwritten, in memory: the files' bytes are held until written.
MAX_QUEUED_BATCHES = 16


class FileWriters:
    """Runs write(job) for each job in a thread; jobs of one path in order."""

    def __init__(self, write):
        self._write = write
        self._pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="layer-files")
        self._batch: list = []
        self._batch_rels: list[bytes] = []
        self._batch_bytes = 0
        self._queued = collections.deque()
        self._where: dict[bytes, object] = {}

    def add(self, rel: bytes, size: int, job) -> None:
        self._batch.append(job)
        self._batch_rels.append(rel)
        self._where[rel] = self._batch
        self._batch_bytes += size
        if len(self._batch) >= BATCH_FILES or self._batch_bytes >= BATCH_BYTES:
            self.hand_over()

    def wait_for(self, rel: bytes) -> None:
        """Return once the file at rel, if queued here, is written (or raise its error)."""
        where = self._where.get(rel)
        if where is None:
            return
        if where is self._batch:
            self.hand_over()
        while rel in self._where:
            self._finish_oldest()

    def wait_all(self) -> None:
        self.hand_over()
        while self._queued:
            self._finish_oldest()

    def close(self) -> None:
        """Stop: queued batches not yet begun are dropped, those under way are waited for."""
        for future, _ in self._queued:
            future.cancel()
        self._pool.shutdown(wait=True)
        self._queued.clear()
        self._where.clear()
        self._batch, self._batch_rels, self._batch_bytes = [], [], 0

    def hand_over(self) -> None:
        """Give the batch being filled to a thread now, full or not."""
        if not self._batch:
            return
        while len(self._queued) >= MAX_QUEUED_BATCHES:
            self._finish_oldest()
        future = self._pool.submit(self._run, self._batch)
        self._queued.append((future, self._batch_rels))
        for rel in self._batch_rels:
            self._where[rel] = future
        self._batch, self._batch_rels, self._batch_bytes = [], [], 0

    def _run(self, batch: list) -> None:
        write = self._write
        for job in batch:
            write(job)

    def _finish_oldest(self) -> None:
        future, rels = self._queued.popleft()
        try:
            future.result()
        finally:
            # A path comes here once: only new ones do.
            for rel in rels:
                del self._where[rel]
