"""What a container may use (memory, cpus, cpu shares, pids, disk), read
from what a user writes (`64m`, `0.5`, `100`, `1g`) and checked here only.

The dashboard's forms, the CLI, `ContainerConfig` and the cgroup driver's
`Limits` all call these functions, so each limit has one minimum and one
message, written as a sentence that reads the same beside a form's field
and after the CLI's `error: `.
"""

import math
import os
import re

from runtime.errors import InvalidArgument
from runtime.records import Record

_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# Compiled by re (and cached) at its first use: a plain `run` has no size to read.
_SIZE = r"(?i)^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$"
# Below this a container cannot even start a shell; Docker's floor is 6 MiB.
MIN_MEMORY = 6 << 20
# The kernel takes a CFS quota down to 1 ms a period (0.01 CPU), but below a
# tenth of a CPU a shell answers too slowly to be used.
MIN_CPUS = 0.1
# cpu.shares' range in cgroup v1 (converted to v2's cpu.weight as runc does).
MIN_CPU_SHARES = 2
MAX_CPU_SHARES = 262_144
MIN_PIDS = 1
# The kernel's PID_MAX_LIMIT: pids.max takes no more.
MAX_PIDS = 4_194_304
# A container's disk (runtime.isolation.layerdisk) spends about 1 MiB of a
# small one on its journal and inode tables; below this too little is left
# for a package index, and a bare number (bytes) is a forgotten unit.
MIN_DISK = 16 << 20


def host_cpus() -> int:
    return os.cpu_count() or 1


def size_text(value: int) -> str:
    """Bytes as a user would write them: 6291456 -> `6m`."""
    for unit in "tgmk":
        if value and value % _SIZE_UNITS[unit] == 0:
            return f"{value // _SIZE_UNITS[unit]}{unit}"
    return f"{value} bytes"


def parse_size(text: str, what: str = "size", example: str = "64m or 1g") -> int:
    """`64m`, `1g`, `512k`, `1048576` -> bytes (binary units, as Docker)."""
    match = re.match(_SIZE, str(text).strip())
    if not match:
        raise InvalidArgument(f"The {what} {text!r} is not a size. Use a size such as {example}.")
    number, unit = match.groups()
    return int(float(number) * _SIZE_UNITS[unit.lower()])


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_memory(value) -> int:
    if not _is_int(value):
        raise InvalidArgument(f"The memory limit must be a whole number of bytes, not {value!r}.")
    if value < MIN_MEMORY:
        raise InvalidArgument(f"The memory limit must be at least {size_text(MIN_MEMORY)}, not {size_text(value)}.")
    return value


def check_cpus(value, most: float | None = None) -> float:
    """`most`: the CPUs of the host that runs it (this one's when None)."""
    most = host_cpus() if most is None else most
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"The CPU limit must be a number, not {value!r}.")
    if not (math.isfinite(value) and MIN_CPUS <= value <= most):
        raise InvalidArgument(f"The CPU limit must be between {MIN_CPUS} and {most:g} (the host's CPU count), "
                              f"not {value:g}.")
    return value


def check_cpu_shares(value) -> int:
    if not _is_int(value) or not MIN_CPU_SHARES <= value <= MAX_CPU_SHARES:
        raise InvalidArgument(f"The CPU shares must be a whole number from {MIN_CPU_SHARES} to {MAX_CPU_SHARES}, "
                              f"not {value!r}.")
    return value


def check_pids(value) -> int:
    if not _is_int(value) or not MIN_PIDS <= value <= MAX_PIDS:
        raise InvalidArgument(f"The pids limit must be a whole number greater than or equal to {MIN_PIDS} "
                              f"and at most {MAX_PIDS}, not {value!r}.")
    return value


def check_disk(value) -> int:
    if not _is_int(value):
        raise InvalidArgument(f"The disk limit must be a whole number of bytes, not {value!r}.")
    if value < MIN_DISK:
        raise InvalidArgument(f"The disk limit must be at least {size_text(MIN_DISK)}, not {size_text(value)}.")
    return value


def _cpus(text) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidArgument(f"The CPU limit {text!r} is not a number. Use a number such as 0.5.") from None


def _whole(text, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"The {what} {text!r} is not a whole number.") from None


class ResourceLimits(Record):
    """Checked limits; None: not limited. The field names are ContainerConfig's."""

    __slots__ = ("memory_bytes", "cpus", "cpu_shares", "pids_limit", "disk_bytes")

    def __init__(self, memory_bytes: int | None = None, cpus: float | None = None, cpu_shares: int | None = None,
                 pids_limit: int | None = None, disk_bytes: int | None = None):
        self.memory_bytes = memory_bytes
        self.cpus = cpus
        self.cpu_shares = cpu_shares
        self.pids_limit = pids_limit
        self.disk_bytes = disk_bytes


def _given(value) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _read(value, parse):
    # Text is what a user wrote; a number is taken as it is.
    return parse(value) if isinstance(value, str) else value


def parse_limits(memory=None, cpus=None, cpu_shares=None, pids=None, disk=None,
                 most_cpus: float | None = None) -> ResourceLimits:
    """Each limit as a user wrote it (text) or as a number (bytes, CPUs, a
    count), None or blank for none -> ResourceLimits, or InvalidArgument
    naming the first bad one. `most_cpus`: see check_cpus."""
    limits = ResourceLimits()
    if _given(memory):
        limits.memory_bytes = check_memory(_read(memory, lambda text: parse_size(text, "memory limit", "64m or 1g")))
    if _given(cpus):
        limits.cpus = check_cpus(_read(cpus, _cpus), most_cpus)
    if _given(cpu_shares):
        limits.cpu_shares = check_cpu_shares(_read(cpu_shares, lambda text: _whole(text, "CPU shares")))
    if _given(pids):
        limits.pids_limit = check_pids(_read(pids, lambda text: _whole(text, "pids limit")))
    if _given(disk):
        limits.disk_bytes = check_disk(_read(disk, lambda text: parse_size(text, "disk limit", "512m or 1g")))
    return limits
