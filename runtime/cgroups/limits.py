"""Resource limits of one container, checked before any cgroup file is written."""

import os

from runtime.errors import InvalidArgument
from runtime.records import Record

MIN_MEMORY_BYTES = 4 * 1024 * 1024
CPU_PERIOD_US = 100_000
# The kernel refuses a CFS quota below 1 ms, so 0.01 CPU is the finest limit.
MIN_CPU_QUOTA_US = 1_000
MIN_CPU_SHARES = 2
MAX_CPU_SHARES = 262_144


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def host_cpus() -> int:
    return os.cpu_count() or 1


class Limits(Record):
    """None means "no limit" when a cgroup is created and "unchanged" on update.

    Immutable: the checks below run once, when it is built."""

    __slots__ = ("memory_bytes", "cpus", "cpu_shares", "pids_limit")

    def __init__(self, memory_bytes: int | None = None, cpus: float | None = None, cpu_shares: int | None = None,
                 pids_limit: int | None = None):
        for name, value in zip(self.__slots__, (memory_bytes, cpus, cpu_shares, pids_limit)):
            object.__setattr__(self, name, value)
        self._check()

    def __setattr__(self, name, value):
        raise AttributeError(f"Limits are immutable: build new ones instead of setting {name}")

    def __hash__(self):
        return hash((self.memory_bytes, self.cpus, self.cpu_shares, self.pids_limit))

    def _check(self) -> None:
        if self.memory_bytes is not None:
            if not _is_int(self.memory_bytes) or self.memory_bytes < MIN_MEMORY_BYTES:
                raise InvalidArgument(f"memory limit must be at least 4 MiB, got {self.memory_bytes!r}")
        if self.cpus is not None:
            cpus = self.cpus
            if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or not cpus > 0:
                raise InvalidArgument(f"cpus must be a number above 0, got {cpus!r}")
            if cpus > host_cpus():
                raise InvalidArgument(f"cpus must be at most {host_cpus()} (the host's CPU count), got {cpus}")
            if round(cpus * CPU_PERIOD_US) < MIN_CPU_QUOTA_US:
                raise InvalidArgument(f"cpus must be at least 0.01, got {cpus}")
        if self.cpu_shares is not None:
            if not _is_int(self.cpu_shares) or not MIN_CPU_SHARES <= self.cpu_shares <= MAX_CPU_SHARES:
                raise InvalidArgument(
                    f"cpu shares must be an integer from {MIN_CPU_SHARES} to {MAX_CPU_SHARES}, got {self.cpu_shares!r}"
                )
        if self.pids_limit is not None:
            if not _is_int(self.pids_limit) or self.pids_limit < 1:
                raise InvalidArgument(f"pids limit must be an integer of at least 1, got {self.pids_limit!r}")

    @property
    def cpu_quota_us(self) -> int | None:
        return None if self.cpus is None else round(self.cpus * CPU_PERIOD_US)

    @property
    def cpu_weight(self) -> int | None:
        """cgroup v2 cpu.weight for the v1-style shares, converted the way runc does."""
        if self.cpu_shares is None:
            return None
        return 1 + ((self.cpu_shares - 2) * 9999) // 262142
