"""Process identity from /proc: a pid plus its start time names one process,
even after the pid has been reused."""


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks after boot), None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses; skip past its last ')'.
    return int(data[data.rindex(b")") + 2:].split()[19])


def is_same(pid: int | None, started: int | None) -> bool:
    """True while pid is still the process that started at `started`."""
    return bool(pid) and started is not None and start_time(pid) == started
