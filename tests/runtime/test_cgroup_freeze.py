"""Freezing stops every process of a cgroup; thawing resumes them."""

import signal
import time

import pytest


COUNTER = """
import os
fd = os.open({path!r}, os.O_WRONLY)
n = 0
while True:
    n += 1
    if n % 1000 == 0:
        os.pwrite(fd, str(n).encode().ljust(20), 0)
"""


def read_counter(path):
    with open(path) as f:
        text = f.read().strip()
    return int(text) if text else 0


def wait_for_advance(path, since, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if read_counter(path) > since:
            return True
        time.sleep(0.01)
    return False


def test_freeze_stops_a_counter_and_thaw_resumes_it(cg, tmp_path):
    counter = tmp_path / "counter"
    counter.write_text("")
    cg.create("box")
    cg.start("box", COUNTER.format(path=str(counter)))
    assert wait_for_advance(counter, 0)
    cg.driver.freeze("box")
    assert cg.driver.frozen("box")
    frozen_at = read_counter(counter)
    time.sleep(0.5)
    assert read_counter(counter) == frozen_at
    cg.driver.thaw("box")
    assert not cg.driver.frozen("box")
    assert wait_for_advance(counter, frozen_at)


def test_freeze_and_thaw_can_repeat(cg):
    cg.create("box")
    cg.start("box", "import time; time.sleep(60)")
    for _ in range(2):
        cg.driver.freeze("box")
        cg.driver.freeze("box")
        assert cg.driver.frozen("box")
        cg.driver.thaw("box")
        assert not cg.driver.frozen("box")


def test_sigkill_reaches_a_frozen_cgroup(cg):
    cg.create("box")
    proc = cg.start("box", "import time; time.sleep(60)")
    cg.driver.freeze("box")
    cg.driver.kill_all("box", signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL


@pytest.mark.v1only
def test_sigterm_to_a_frozen_v1_cgroup_waits_for_thaw(cg):
    cg.create("box")
    proc = cg.start("box", "import time; time.sleep(60)")
    cg.driver.freeze("box")
    cg.driver.kill_all("box", signal.SIGTERM)
    assert cg.driver.frozen("box")
    assert proc.poll() is None
    cg.driver.thaw("box")
    assert proc.wait(timeout=10) == -signal.SIGTERM


@pytest.mark.v2only
def test_sigterm_ends_a_frozen_v2_cgroup_that_stays_paused(cg):
    """v2 lets a fatal signal take a task out of the frozen state; the
    cgroup itself stays paused for whatever joins it later."""
    cg.create("box")
    proc = cg.start("box", "import time; time.sleep(60)")
    cg.driver.freeze("box")
    cg.driver.kill_all("box", signal.SIGTERM)
    assert proc.wait(timeout=10) == -signal.SIGTERM
    with open(f"{cg.driver.paths('box')['unified']}/cgroup.freeze") as f:
        assert f.read().strip() == "1"


@pytest.mark.v1only
def test_killing_an_empty_cgroup_leaves_its_freezer_as_it_was(cg):
    # An exited container's cgroup, emptied by pid 1's exit: nothing to
    # signal, so no freeze and thaw (CgroupDriver.kill_all).
    cg.create("box")
    cg.driver.freeze("box")
    cg.driver.kill_all("box", signal.SIGKILL)
    assert cg.driver.frozen("box")
    cg.driver.thaw("box")
    cg.driver.kill_all("box", signal.SIGKILL)
    assert not cg.driver.frozen("box")
