"""Which cgroup hierarchy the suite runs on: v1 (hybrid) on the development
host, unified v2 in the `make test-cgroupv2` VM. These guard the premises the
v1-only and v2-only tests are selected on."""

from pathlib import Path

import pytest

CGROUP = Path("/sys/fs/cgroup")


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fs type, options) of every mount this process sees."""
    rows = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, point, fstype, opts, *_ = line.split()
        rows.append((point, fstype, set(opts.split(","))))
    return rows


@pytest.mark.v2only
def test_unified_hierarchy_offers_memory_pids_and_cpu():
    fstype = [t for point, t, _ in _mounts() if point == str(CGROUP)][-1]
    assert fstype == "cgroup2"
    assert {"memory", "pids", "cpu"} <= set((CGROUP / "cgroup.controllers").read_text().split())
    # One "0::<path>" line: no v1 hierarchy is mounted alongside.
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("0::")


@pytest.mark.v1only
def test_host_mounts_the_v1_memory_controller():
    memory = [point for point, t, opts in _mounts() if t == "cgroup" and "memory" in opts]
    assert memory, "no cgroup v1 hierarchy carries the memory controller"
    assert (Path(memory[-1]) / "memory.limit_in_bytes").is_file()
