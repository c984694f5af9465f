"""Memory, pids and cpu limits, enforced on what runs inside."""

import subprocess
import sys
import time

import pytest
from container_testing import sh

from runtime.cgroups import Limits
from runtime.config import ContainerConfig
from runtime.errors import InvalidArgument


def test_memory_bomb_is_oom_killed_with_137_and_recorded(rt):
    # The seed tutorial's bomb: a shell variable fed from /dev/urandom without end.
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", 'random="$(dd if=/dev/urandom ibs=20000)"'],
                                   memory_bytes=32 << 20))
    state = rt.wait(state.id)
    assert (state.status, state.exit_code, state.oom_killed) == ("exited", 137, True)
    assert rt.inspect(state.id)["oom_killed"] is True


def test_pids_limit_stops_a_fork_loop(rt):
    # The loop runs in a child shell, which gives up at the limit; the count
    # uses builtins only, since at the limit pid 1 cannot fork either.
    code, out = sh(rt, "sh -c 'for i in $(seq 40); do sleep 5 & done'; set -- /proc/[0-9]*; echo count $#; kill -9 -1",
                   pids_limit=10)
    assert "can't fork" in out
    assert int(out.split("count")[1].split()[0]) <= 10


def test_half_a_cpu_holds_under_a_busy_loop(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", "while :; do :; done & while :; do :; done"],
                                   cpus=0.5))
    first = rt.stats(state.id)
    time.sleep(2)
    second = rt.stats(state.id)
    used = (second["cpu_usage_ns"] - first["cpu_usage_ns"]) / ((second["t"] - first["t"]) * 1e9)
    assert 0.2 < used < 0.65
    rt.delete(state.id, force=True)


def test_stats_report_memory_limit_and_pids(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sleep", "30"], memory_bytes=64 << 20, pids_limit=50))
    sample = rt.stats_many([state.id])[state.id]
    assert sample["memory_limit_bytes"] == 64 << 20 and sample["pids"] == 1 and sample["pids_limit"] == 50
    assert sample["memory_bytes"] > 0 and sample["oom_kills"] == 0 and "cpu_percent" in sample
    rt.delete(state.id, force=True)


@pytest.mark.parametrize("option, text, field, value", [
    ("--memory", "5m", "memory_bytes", 5 << 20),
    ("--cpus", "0.05", "cpus", 0.05),
    ("--cpu-shares", "1", "cpu_shares", 1),
    ("--pids-limit", "0", "pids_limit", 0),
    ("--disk", "8m", "disk_bytes", 8 << 20),
])
def test_a_limit_below_its_minimum_gets_one_message_however_it_is_given(rt, option, text, field, value):
    cli = subprocess.run([sys.executable, "-m", "runtime", "run", option, text, "busybox", "true"],
                         capture_output=True, text=True, timeout=60)
    with pytest.raises(InvalidArgument) as from_config:
        rt.run(ContainerConfig(image="busybox", command=["true"], **{field: value}))
    assert cli.returncode == 1 and cli.stderr == f"error: {from_config.value}\n"
    if field != "disk_bytes":
        with pytest.raises(InvalidArgument) as from_cgroup_limits:
            Limits(**{field: value})
        assert str(from_cgroup_limits.value) == str(from_config.value)
    assert rt.list(all=True) == []
