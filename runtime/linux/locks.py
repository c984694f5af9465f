"""A directory's lock: one flock on its `.lock` file, for the processes
(CLIs, a worker, a forker) that change what the directory holds."""

import fcntl
import os
from contextlib import contextmanager


@contextmanager
def directory_locked(directory: str):
    """Hold `directory`'s lock (made, root-only, if missing) for the block."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(f"{directory}/.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
