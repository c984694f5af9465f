"""The main process's output: `<root>/containers/<id>/log.jsonl`.

One JSON object a line, {"t": unix time, "stream": "stdout"|"stderr",
"data": text}; bytes that are not UTF-8 survive through surrogateescape.
The file is bounded: past MAX_BYTES it becomes log.jsonl.1 (replacing the
previous one) and a new file starts, so a chatty container costs at most
twice MAX_BYTES of disk.
"""

import json
import os
import select
import time

MAX_BYTES = 1 << 20
NAME = "log.jsonl"


class LogWriter:
    """Opened at the first output: a container that prints nothing costs no
    file to create and, on a journalled disk, none to remove."""

    def __init__(self, directory: str | os.PathLike, max_bytes: int = MAX_BYTES):
        self.path = f"{os.fspath(directory)}/{NAME}"
        self.max_bytes = max_bytes
        self.fd = None
        self.size = 0

    def write(self, stream: str, data: bytes) -> None:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            self.size = os.fstat(self.fd).st_size
        text = data.decode("utf-8", "surrogateescape")
        line = (json.dumps({"t": time.time(), "stream": stream, "data": text}) + "\n").encode("utf-8", "surrogatepass")
        if self.size and self.size + len(line) > self.max_bytes:
            os.close(self.fd)
            os.rename(self.path, self.path + ".1")
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            self.size = 0
        os.write(self.fd, line)
        self.size += len(line)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


def _entry(line: bytes) -> dict:
    record = json.loads(line.decode("utf-8", "surrogatepass"))
    record["data"] = record["data"].encode("utf-8", "surrogateescape")
    return record


def read(directory: str | os.PathLike, follow: bool = False, alive=lambda: False, poll_interval: float = 0.1):
    """Entries oldest first. With follow, keeps reading while alive() says the
    writer may still add lines; the file is not a pipe, so following means
    re-reading after a short wait, as `tail -f` does."""
    path = f"{os.fspath(directory)}/{NAME}"
    rotated = path + ".1"
    if os.path.exists(rotated):
        with open(rotated, "rb") as f:
            for line in f:
                yield _entry(line)
    while True:
        try:
            f = open(path, "rb")
            break
        except FileNotFoundError:
            # Nothing printed yet: the file appears with the first output.
            if not follow or not alive():
                return
            select.select([], [], [], poll_interval)
    with f:
        pending = b""
        while True:
            chunk = f.readline()
            if chunk:
                pending += chunk
                if pending.endswith(b"\n"):
                    yield _entry(pending)
                    pending = b""
                continue
            if not follow or not alive():
                for line in f:
                    yield _entry(line)
                return
            select.select([], [], [], poll_interval)
