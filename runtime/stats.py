"""One stats sample of a container: its cgroup's counters, the network
bytes of its namespace, and cpu_percent against the previous sample."""

import os

ZERO = {
    "cpu_usage_ns": 0, "cpu_throttled_periods": 0, "cpu_throttled_ns": 0, "memory_bytes": 0,
    "memory_working_set_bytes": 0, "memory_cache_bytes": 0, "memory_limit_bytes": None, "pids": 0,
    "pids_limit": None, "oom_kills": 0, "blk_read_bytes": 0, "blk_write_bytes": 0,
}


def net_bytes(pid: int | None) -> tuple[int, int]:
    """(rx, tx) summed over the interfaces of pid's network namespace."""
    if not pid:
        return 0, 0
    # os.open/os.read: a buffered text file costs more than the read, every tick for every container.
    try:
        fd = os.open(f"/proc/{pid}/net/dev", os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError):
        return 0, 0
    try:
        data = os.read(fd, 65536)
    finally:
        os.close(fd)
    rx = tx = 0
    for line in data.splitlines()[2:]:
        fields = line.split(b":", 1)[1].split()
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


def sample(state, values: dict | None, now: float, previous: dict) -> dict:
    """values: the cgroup's counters read at `now`, None when there are none.
    previous maps id -> (t, cpu_usage_ns) and is updated here."""
    values = dict(values or ZERO)
    rx, tx = net_bytes(state.pid if state.status in ("running", "paused") else None)
    values.update(t=now, net_rx_bytes=rx, net_tx_bytes=tx)
    last = previous.get(state.id)
    percent = 0.0
    if last is not None and now > last[0]:
        # 100 means one full CPU, as in `docker stats`.
        percent = max(0.0, (values["cpu_usage_ns"] - last[1]) / ((now - last[0]) * 1e9) * 100)
    values["cpu_percent"] = round(percent, 2)
    previous[state.id] = (now, values["cpu_usage_ns"])
    return values
