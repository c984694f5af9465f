"""What recording a lab shell costs the node agent: the CPU time
dashboard.shell.recording.Recorder spends per read of a PTY in the event
loop (encoding) and with its writer thread's (the file), for the
reads a shell makes (an echo of a few bytes, a line, a full 64 KiB read of
a flood), against the 25 ms p99 keystroke target of bench/shell_latency.py
and its 20 MB/s bulk target. The recording is capped far above what is fed,
so every byte is encoded and written. Runs anywhere (a temporary
directory, removed at the end)."""

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django  # noqa: E402

django.setup()

from dashboard.shell.recording import Recorder  # noqa: E402

CASES = [("echo", b"x", 200_000), ("line", b"total 48 drwxr-xr-x 2 root root 4096 ls -l\r\n", 100_000),
         ("flood read", b"y\r\n" * (64 * 1024 // 3), 2_000)]


async def measure(name: str, data: bytes, reads: int, directory: Path) -> None:
    closed = asyncio.Event()
    recorder = Recorder(directory / f"{name.replace(' ', '-')}.cast", rows=24, cols=80, title=name,
                        max_bytes=1 << 40, on_close=lambda _: closed.set())
    start, loop_start = time.process_time(), time.thread_time()
    for _ in range(reads):
        recorder.output(data)
    recorder.close()
    loop_spent = time.thread_time() - loop_start
    await closed.wait()
    spent = time.process_time() - start
    megabytes = len(data) * reads / 1e6
    print(f"{name:>10}: {loop_spent / reads * 1e6:8.2f} us of the loop per read of {len(data)} bytes"
          f" ({megabytes / loop_spent:6.1f} MB/s), {spent / reads * 1e6:8.2f} us with the writer's"
          f" ({megabytes / spent:6.1f} MB/s); file {recorder.size / 1e6:.1f} MB")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, data, reads in CASES:
            await measure(name, data, reads, Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
