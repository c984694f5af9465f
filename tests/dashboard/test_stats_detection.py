"""Limit hits found in a sequence of samples: once per episode, not per second."""

from dashboard.monitoring.detection import LimitWatch

MiB = 1 << 20


def kinds(watch, **values):
    sample = {"t": 0.0, "memory_limit_bytes": 32 * MiB, "memory_working_set_bytes": 0, "pids": 1,
              "pids_limit": 16, "oom_kills": 0, "cpu_throttled_ms": 0, **values}
    return [kind for kind, _ in watch.check(sample)]


def test_oom_kill_counter_rising_is_an_oom_event():
    watch = LimitWatch()
    assert kinds(watch, oom_kills=0) == []
    assert kinds(watch, oom_kills=1) == ["oom"]
    assert kinds(watch, oom_kills=1) == []


def test_kills_before_the_first_sample_are_not_reported():
    watch = LimitWatch()
    assert kinds(watch, oom_kills=3) == []


def test_memory_high_fires_once_until_usage_falls_well_below():
    watch = LimitWatch()
    assert kinds(watch, memory_working_set_bytes=29 * MiB) == ["memory_high"]
    assert kinds(watch, memory_working_set_bytes=31 * MiB) == []
    assert kinds(watch, memory_working_set_bytes=27 * MiB) == []
    assert kinds(watch, memory_working_set_bytes=30 * MiB) == []
    assert kinds(watch, memory_working_set_bytes=10 * MiB) == []
    assert kinds(watch, memory_working_set_bytes=30 * MiB) == ["memory_high"]


def test_no_memory_limit_means_no_memory_high():
    assert kinds(LimitWatch(), memory_limit_bytes=None, memory_working_set_bytes=10**12) == []


def test_pids_limit_reached_fires_on_reaching_it():
    watch = LimitWatch()
    assert kinds(watch, pids=15) == []
    assert kinds(watch, pids=16) == ["pids_limit"]
    assert kinds(watch, pids=16) == []
    assert kinds(watch, pids=3) == []
    assert kinds(watch, pids=16) == ["pids_limit"]


def test_throttling_begins_once_per_episode():
    watch = LimitWatch()
    assert kinds(watch, t=0.0, cpu_throttled_ms=40) == ["throttled"]
    assert kinds(watch, t=1.0, cpu_throttled_ms=40) == []
    assert kinds(watch, t=2.0, cpu_throttled_ms=0) == []
    assert kinds(watch, t=20.0, cpu_throttled_ms=5) == []
    assert kinds(watch, t=60.0, cpu_throttled_ms=5) == ["throttled"]
