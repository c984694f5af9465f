"""Loop devices backed by files under a directory: a test's state root must
leave none behind (a container's disk, runtime.isolation.layerdisk, holds one while
it runs; the device clears itself once the filesystem's last mount goes,
which can be a moment after the shim that held it has left)."""

import os
import time
from pathlib import Path


def backed_under(path, grace_s: float = 10) -> list[str]:
    """The loop devices whose backing file is under path after up to grace_s."""
    prefix = os.path.realpath(path) + "/"
    deadline = time.monotonic() + grace_s
    while True:
        found = []
        for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
            try:
                name = backing.read_text().strip()
            except OSError:
                continue  # cleared meanwhile
            if name.startswith(prefix):
                found.append(f"{backing.parent.parent.name} -> {name}")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
