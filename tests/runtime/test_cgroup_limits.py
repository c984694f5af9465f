"""Limits: validation, the files they are written to, and live updates."""

import os

import pytest


from runtime.cgroups import Limits
from runtime.errors import InvalidArgument
from runtime.resources import MIN_CPUS, MIN_MEMORY, host_cpus

MiB = 1024 * 1024


@pytest.mark.parametrize(
    "kwargs",
    [
        {"memory_bytes": MIN_MEMORY - 1},
        {"memory_bytes": "64m"},
        {"memory_bytes": True},
        {"cpus": 0},
        {"cpus": -1.5},
        {"cpus": 0.001},
        {"cpus": "1"},
        {"cpu_shares": 1},
        {"cpu_shares": 262145},
        {"cpu_shares": 2.5},
        {"pids_limit": 0},
        {"pids_limit": -1},
    ],
)
def test_invalid_limits_are_rejected(kwargs):
    with pytest.raises(InvalidArgument):
        Limits(**kwargs)


def test_cpus_above_host_count_are_rejected():
    with pytest.raises(InvalidArgument, match="host's CPU count"):
        Limits(cpus=host_cpus() + 0.5)


def test_smallest_valid_limits_are_accepted():
    limits = Limits(memory_bytes=MIN_MEMORY, cpus=MIN_CPUS, cpu_shares=2, pids_limit=1)
    assert limits.cpu_quota_us == 10000
    assert limits.to_dict() == {"memory_bytes": MIN_MEMORY, "cpus": MIN_CPUS, "cpu_shares": 2, "pids_limit": 1}


@pytest.mark.parametrize("shares,weight", [(2, 1), (1024, 39), (262144, 10000), (512, 20)])
def test_cpu_weight_converts_shares_like_runc(shares, weight):
    assert Limits(cpu_shares=shares).cpu_weight == weight


def read(path):
    with open(path) as f:
        return f.read().strip()


@pytest.mark.v1only
def test_limits_are_written_to_v1_files(cg):
    cg.create("box", Limits(memory_bytes=48 * MiB, cpus=1.5, cpu_shares=512, pids_limit=20))
    paths = cg.driver.paths("box")
    assert read(f"{paths['memory']}/memory.limit_in_bytes") == str(48 * MiB)
    if os.path.exists(f"{paths['memory']}/memory.memsw.limit_in_bytes"):
        assert read(f"{paths['memory']}/memory.memsw.limit_in_bytes") == str(48 * MiB)
    assert read(f"{paths['cpu']}/cpu.cfs_period_us") == "100000"
    assert read(f"{paths['cpu']}/cpu.cfs_quota_us") == "150000"
    assert read(f"{paths['cpu']}/cpu.shares") == "512"
    assert read(f"{paths['pids']}/pids.max") == "20"
    parent_cpuset = os.path.dirname(paths["cpuset"])
    assert read(f"{paths['cpuset']}/cpuset.cpus") == read(f"{parent_cpuset}/cpuset.cpus") != ""
    assert read(f"{paths['cpuset']}/cpuset.mems") == read(f"{parent_cpuset}/cpuset.mems") != ""


@pytest.mark.v2only
def test_limits_are_written_to_v2_files(cg):
    cg.create("box", Limits(memory_bytes=48 * MiB, cpus=1.5, cpu_shares=512, pids_limit=20))
    path = cg.driver.paths("box")["unified"]
    assert read(f"{path}/memory.max") == str(48 * MiB)
    if os.path.exists(f"{path}/memory.swap.max"):
        assert read(f"{path}/memory.swap.max") == "0"
    assert read(f"{path}/cpu.max") == "150000 100000"
    assert read(f"{path}/cpu.weight") == "20"
    assert read(f"{path}/pids.max") == "20"
    parent = os.path.dirname(path)
    assert set(read(f"{parent}/cgroup.subtree_control").split()) >= {"cpu", "memory", "pids", "io", "cpuset"}


def test_unset_limits_read_as_unlimited(cg):
    cg.create("free")
    stats = cg.driver.stats("free")
    assert stats["memory_limit_bytes"] is None
    assert stats["pids_limit"] is None


def test_update_changes_limits_of_a_running_cgroup(cg):
    cg.create("box", Limits(memory_bytes=32 * MiB, pids_limit=10))
    proc = cg.start("box", "import time; time.sleep(60)")
    cg.driver.update("box", Limits(memory_bytes=96 * MiB))
    stats = cg.driver.stats("box")
    assert stats["memory_limit_bytes"] == 96 * MiB
    assert stats["pids_limit"] == 10
    cg.driver.update("box", Limits(memory_bytes=16 * MiB, pids_limit=50))
    stats = cg.driver.stats("box")
    assert (stats["memory_limit_bytes"], stats["pids_limit"]) == (16 * MiB, 50)
    assert cg.driver.procs("box") == [proc.pid]


def test_update_changes_cpu_limits_in_place(cg):
    cg.create("box", Limits(cpus=0.5, cpu_shares=256))
    cg.driver.update("box", Limits(cpus=1.25))
    paths = cg.driver.paths("box")
    if cg.driver.version == "v1":
        assert read(f"{paths['cpu']}/cpu.cfs_quota_us") == "125000"
        assert read(f"{paths['cpu']}/cpu.shares") == "256"
    else:
        assert read(f"{paths['unified']}/cpu.max") == "125000 100000"
        assert read(f"{paths['unified']}/cpu.weight") == "10"
