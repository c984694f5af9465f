"""Process identity from /proc: a pid plus its start time names one process,
even after the pid has been reused."""

import os


def _stat_fields(pid: int) -> list[bytes] | None:
    """/proc/<pid>/stat from field 3 (the state) on, None if gone."""
    # os.open and os.read, not open(): a forked shim reads these, and the
    # io objects of open() touch pages that fork shares, which it must copy.
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        data = os.read(fd, 4096)
    except ProcessLookupError:
        return None
    finally:
        os.close(fd)
    # The command name (field 2) may hold spaces and parentheses; skip past its last ')'.
    return data[data.rindex(b")") + 2:].split()


def parent(pid: int) -> int | None:
    """Field 4 of /proc/<pid>/stat, the parent's pid; None if gone."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[1])


def children(pid: int) -> list[int]:
    """The pids pid forked (its main thread's children)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks after boot), None if gone."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def is_same(pid: int | None, started: int | None) -> bool:
    """True while pid is still the process that started at `started` and has
    not exited: a zombie waiting for its parent to reap it counts as gone."""
    if not pid or started is None:
        return False
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in (b"Z", b"X") and int(fields[19]) == started


def set_name(name: str) -> None:
    """The name ps, top and perf show for the calling thread (15 bytes at most):
    a forked shim would otherwise look like the CLI or worker it came from."""
    fd = os.open("/proc/thread-self/comm", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, name.encode())
    finally:
        os.close(fd)
