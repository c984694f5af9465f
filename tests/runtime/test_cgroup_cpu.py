"""A fractional cpu limit holds under busy loops."""

import time


from runtime.cgroups import Limits
from runtime.resources import host_cpus

BUSY = """
import os
for _ in range({workers} - 1):
    if os.fork() == 0:
        break
while True:
    pass
"""


def cores_used(driver, name, seconds=2.0):
    """CPU time the cgroup used per wall-clock second, over a window."""
    before, start = driver.stats(name)["cpu_usage_ns"], time.monotonic()
    time.sleep(seconds)
    after, end = driver.stats(name)["cpu_usage_ns"], time.monotonic()
    return (after - before) / 1e9 / (end - start)


def test_half_a_cpu_limit_holds_under_busy_loops(cg):
    workers = host_cpus()
    cg.create("busy", Limits(cpus=0.5))
    cg.start("busy", BUSY.format(workers=workers))
    # Let the workers start before measuring.
    time.sleep(0.3)
    # Unlimited, this many busy loops would use every core.
    assert cores_used(cg.driver, "busy") < 0.75
    # Throttled once the loops get their half cpu: on a machine busy with
    # other work that can take a while, so wait for it (a bound, not a timing).
    deadline = time.monotonic() + 30
    while (stats := cg.driver.stats("busy"))["cpu_throttled_periods"] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stats["cpu_throttled_periods"] > 0
    assert stats["cpu_throttled_ns"] > 0

