"""One stats sample of a container: its cgroup's counters, the network
bytes of its namespace, and cpu_percent against the previous sample."""

import time

from runtime.errors import NotFound

ZERO = {
    "cpu_usage_ns": 0, "cpu_throttled_periods": 0, "cpu_throttled_ns": 0, "memory_bytes": 0,
    "memory_working_set_bytes": 0, "memory_cache_bytes": 0, "memory_limit_bytes": None, "pids": 0,
    "pids_limit": None, "oom_kills": 0, "blk_read_bytes": 0, "blk_write_bytes": 0,
}


def net_bytes(pid: int | None) -> tuple[int, int]:
    """(rx, tx) summed over the interfaces of pid's network namespace."""
    if not pid:
        return 0, 0
    rx = tx = 0
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.readlines()[2:]
    except (FileNotFoundError, ProcessLookupError):
        return 0, 0
    for line in lines:
        fields = line.split(":", 1)[1].split()
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


def sample(driver, state, previous: dict) -> dict:
    """previous maps id -> (t, cpu_usage_ns) and is updated here."""
    now = time.time()
    try:
        values = dict(driver.stats(state.id)) if state.status in ("running", "paused") else dict(ZERO)
    except NotFound:
        values = dict(ZERO)
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
