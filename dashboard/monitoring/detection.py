"""Limit hits seen in a container's samples, as events.

Each kind fires on the rising edge only and re-arms with some hysteresis,
so a container hovering at a limit gives one marker, not one per second.
"""

from dataclasses import dataclass

MEMORY_HIGH_RATIO = 0.9
MEMORY_REARM_RATIO = 0.8
# Throttling this long after the previous throttled second is the same episode.
THROTTLE_QUIET_SECONDS = 30.0


@dataclass
class LimitWatch:
    oom_kills: int | None = None
    last_throttled_t: float | None = None
    pids_full: bool = False
    memory_high: bool = False

    def check(self, sample: dict) -> list[tuple[str, dict]]:
        """The (kind, data) events this sample starts."""
        events = []
        kills = sample.get("oom_kills") or 0
        # The first reading only sets the baseline: kills before we watched are not news.
        if self.oom_kills is not None and kills > self.oom_kills:
            events.append(("oom", {"oom_kills": kills, "memory_limit_bytes": sample.get("memory_limit_bytes")}))
        self.oom_kills = kills

        if sample.get("cpu_throttled_ms"):
            t = sample["t"]
            if self.last_throttled_t is None or t - self.last_throttled_t > THROTTLE_QUIET_SECONDS:
                events.append(("throttled", {"throttled_ms": sample["cpu_throttled_ms"], "cpus": sample.get("cpus")}))
            self.last_throttled_t = t

        pids, pids_limit = sample.get("pids"), sample.get("pids_limit")
        full = bool(pids_limit) and pids is not None and pids >= pids_limit
        if full and not self.pids_full:
            events.append(("pids_limit", {"pids": pids, "pids_limit": pids_limit}))
        self.pids_full = full

        # The working set, not usage: page cache near the limit is reclaimed, not a threat.
        used, limit = sample.get("memory_working_set_bytes"), sample.get("memory_limit_bytes")
        if limit and used is not None:
            if not self.memory_high and used >= MEMORY_HIGH_RATIO * limit:
                self.memory_high = True
                events.append(("memory_high", {"memory_working_set_bytes": used, "memory_limit_bytes": limit}))
            elif self.memory_high and used < MEMORY_REARM_RATIO * limit:
                self.memory_high = False
        return events
