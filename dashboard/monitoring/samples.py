"""Samples: what one tick says about one container, derived from two raw
stats readings (counters become per-second rates), and their compact form
for storage (a JSON array in FIELDS order, about a third of the dict's size)."""

from dataclasses import dataclass, field

FIELDS = (
    "t",
    "cpu_percent",
    "cpu_limit_percent",
    "cpus",
    "cpu_throttled_ms",
    "memory_bytes",
    "memory_working_set_bytes",
    "memory_cache_bytes",
    "memory_limit_bytes",
    "pids",
    "pids_limit",
    "oom_kills",
    "net_rx_bps",
    "net_tx_bps",
    "blk_read_bps",
    "blk_write_bps",
)
VALUE_FIELDS = FIELDS[1:]

# Raw counter -> the per-second rate it becomes in a sample.
_RATES = {
    "net_rx_bytes": "net_rx_bps",
    "net_tx_bytes": "net_tx_bps",
    "blk_read_bytes": "blk_read_bps",
    "blk_write_bytes": "blk_write_bps",
}
_GAUGES = (
    "memory_bytes",
    "memory_working_set_bytes",
    "memory_cache_bytes",
    "memory_limit_bytes",
    "pids",
    "pids_limit",
    "oom_kills",
)


def _delta(cur: dict, prev: dict, key: str) -> float:
    # A counter that went backwards belongs to a restarted cgroup: no rate.
    return max((cur.get(key) or 0) - (prev.get(key) or 0), 0)


def sample_from(prev: dict, cur: dict, cpus: float | None) -> dict:
    """The sample for the interval between two raw readings of one cgroup.
    cpu_percent is of one core (200 = two cores busy); cpu_limit_percent is
    of the container's cpu limit, when it has one."""
    dt = max(cur["t"] - prev["t"], 1e-3)
    cpu_percent = _delta(cur, prev, "cpu_usage_ns") / dt / 1e7
    sample = {
        "t": round(cur["t"], 3),
        "cpu_percent": round(cpu_percent, 2),
        "cpu_limit_percent": round(cpu_percent / cpus, 2) if cpus else None,
        "cpus": cpus,
        "cpu_throttled_ms": round(_delta(cur, prev, "cpu_throttled_ns") / dt / 1e6, 1),
    }
    for key in _GAUGES:
        sample[key] = cur.get(key)
    for counter, rate in _RATES.items():
        sample[rate] = round(_delta(cur, prev, counter) / dt)
    return sample


def pack(sample: dict) -> list:
    return [sample.get(f) for f in FIELDS]


def unpack(row: list) -> dict:
    return dict(zip(FIELDS, row))


@dataclass
class MinuteBucket:
    """min/avg/max of every value field over one wall-clock minute."""

    start: int
    count: int = 0
    low: list = field(default_factory=lambda: [None] * len(VALUE_FIELDS))
    total: list = field(default_factory=lambda: [0.0] * len(VALUE_FIELDS))
    high: list = field(default_factory=lambda: [None] * len(VALUE_FIELDS))
    seen: list = field(default_factory=lambda: [0] * len(VALUE_FIELDS))

    def add(self, sample: dict) -> None:
        self.count += 1
        for i, name in enumerate(VALUE_FIELDS):
            value = sample.get(name)
            if value is None:
                continue
            self.seen[i] += 1
            self.total[i] += value
            self.low[i] = value if self.low[i] is None else min(self.low[i], value)
            self.high[i] = value if self.high[i] is None else max(self.high[i], value)

    def row(self) -> list:
        """[start, mins, avgs, maxs], the stored form of an aggregate."""
        avgs = [round(self.total[i] / n, 2) if n else None for i, n in enumerate(self.seen)]
        return [self.start, self.low, avgs, self.high]


def merge_rows(rows: list[list], step: int) -> list[list]:
    """Aggregate rows coarsened to `step` seconds (7 days of minutes is too
    many points for one message); averages are weighted equally per minute."""
    merged: dict[int, list] = {}
    for start, lows, avgs, highs in rows:
        key = start - start % step
        slot = merged.setdefault(key, [key, list(lows), [[] for _ in avgs], list(highs)])
        for i, value in enumerate(avgs):
            if value is not None:
                slot[2][i].append(value)
            slot[1][i] = _pick(min, slot[1][i], lows[i])
            slot[3][i] = _pick(max, slot[3][i], highs[i])
    result = []
    for key in sorted(merged):
        start, lows, avg_lists, highs = merged[key]
        avgs = [round(sum(v) / len(v), 2) if v else None for v in avg_lists]
        result.append([start, lows, avgs, highs])
    return result


def _pick(fn, a, b):
    if a is None:
        return b
    if b is None:
        return a
    return fn(a, b)


def aggregate_sample(row: list) -> dict:
    """An aggregate row as a sample: averages under the usual names, the
    extremes under "min" and "max"."""
    start, lows, avgs, highs = row
    sample = {"t": start, **dict(zip(VALUE_FIELDS, avgs))}
    sample["min"] = dict(zip(VALUE_FIELDS, lows))
    sample["max"] = dict(zip(VALUE_FIELDS, highs))
    return sample
