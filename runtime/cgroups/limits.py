"""Resource limits of one container, checked before any cgroup file is written."""

from runtime.records import Record
from runtime.resources import check_cpu_shares, check_cpus, check_memory, check_pids

CPU_PERIOD_US = 100_000


class Limits(Record):
    """None means "no limit" when a cgroup is created and "unchanged" on update.

    Immutable: the checks below run once, when it is built."""

    __slots__ = ("memory_bytes", "cpus", "cpu_shares", "pids_limit")
    # The period cpu_quota_us is a share of, which a driver writes beside it.
    cpu_period_us = CPU_PERIOD_US

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
        # The same checks as ContainerConfig's, so a limit has one minimum however it arrives.
        if self.memory_bytes is not None:
            check_memory(self.memory_bytes)
        if self.cpus is not None:
            check_cpus(self.cpus)
        if self.cpu_shares is not None:
            check_cpu_shares(self.cpu_shares)
        if self.pids_limit is not None:
            check_pids(self.pids_limit)

    @property
    def cpu_quota_us(self) -> int | None:
        return None if self.cpus is None else round(self.cpus * CPU_PERIOD_US)

    @property
    def cpu_weight(self) -> int | None:
        """cgroup v2 cpu.weight for the v1-style shares, converted the way runc does."""
        if self.cpu_shares is None:
            return None
        return 1 + ((self.cpu_shares - 2) * 9999) // 262142
