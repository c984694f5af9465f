"""Creating, joining, killing and destroying cgroups; failures leave nothing behind."""

import os
import signal
import subprocess
import time

import pytest
from cgroup_testing import HOST_VERSION

from runtime import cgroups
from runtime.cgroups import Limits, V1Driver, V2Driver
from runtime.errors import Conflict, InvalidArgument, NotFound, NotPermitted


def test_detect_matches_the_filesystem_type_of_the_mount():
    fstype = subprocess.run(["stat", "-f", "-c", "%T", "/sys/fs/cgroup"], capture_output=True, text=True).stdout
    assert cgroups.detect() == ("v2" if fstype.strip() == "cgroup2fs" else "v1")
    assert cgroups.driver().version == HOST_VERSION


@pytest.mark.v1only
def test_hybrid_unified_mount_without_controllers_is_not_v2():
    if not os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers"):
        pytest.skip("no cgroup2 mount at /sys/fs/cgroup/unified")
    assert cgroups.detect("/sys/fs/cgroup/unified") == "v1"


def test_create_makes_one_directory_per_controller_under_the_parent(cg, cgroup_parent):
    cg.create("box")
    paths = cg.driver.paths("box")
    expected = {"v1": {"cpu", "cpuacct", "memory", "pids", "devices", "freezer", "blkio", "cpuset"}, "v2": {"unified"}}
    assert set(paths) == expected[HOST_VERSION]
    for path in paths.values():
        assert os.path.isdir(path)
        assert path.startswith("/sys/fs/cgroup/") and path.endswith(f"/{cgroup_parent}/box")


def test_attached_process_is_listed(cg):
    cg.create("box")
    proc = cg.start("box", "import time; time.sleep(60)")
    assert cg.driver.procs("box") == [proc.pid]
    with open(f"/proc/{proc.pid}/cgroup") as f:
        assert any(line.rstrip().endswith("/box") for line in f)


def test_attaching_a_missing_process_raises_not_found(cg):
    cg.create("box")
    proc = subprocess.Popen(["true"])
    proc.wait()
    with pytest.raises(NotFound, match=f"process {proc.pid}"):
        cg.driver.attach("box", proc.pid)


def test_destroy_removes_every_directory_and_can_run_twice(cg):
    cg.create("box")
    paths = cg.driver.paths("box")
    cg.driver.destroy("box")
    assert not [p for p in paths.values() if os.path.exists(p)]
    cg.driver.destroy("box")


def test_destroy_refuses_while_processes_remain(cg, monkeypatch):
    cg.create("box")
    cg.start("box", "import time; time.sleep(60)")
    monkeypatch.setattr("runtime.cgroups.files.RMDIR_TIMEOUT_S", 0.1)
    with pytest.raises(Conflict, match="still has processes"):
        cg.driver.destroy("box")


def test_kill_all_kills_every_process_including_forked_ones(cg):
    cg.create("box")
    proc = cg.start("box", "import os, time\nfor _ in range(5):\n    os.fork()\ntime.sleep(60)")
    deadline = time.monotonic() + 10
    while len(cg.driver.procs("box")) < 32 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(cg.driver.procs("box")) == 32
    cg.driver.kill_all("box", signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    while cg.driver.procs("box") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cg.driver.procs("box") == []


def test_kill_all_delivers_other_signals(cg):
    cg.create("box")
    proc = cg.start("box", "import time; time.sleep(60)")
    cg.driver.kill_all("box", signal.SIGTERM)
    assert proc.wait(timeout=10) == -signal.SIGTERM


def test_existing_name_conflicts_and_keeps_the_existing_cgroup(cg):
    cg.create("box")
    proc = cg.start("box", "import time; time.sleep(60)")
    with pytest.raises(Conflict, match="already exists"):
        cg.driver.create("box", Limits(memory_bytes=8 << 20))
    assert cg.driver.procs("box") == [proc.pid]
    assert cg.driver.stats("box")["memory_limit_bytes"] is None


@pytest.mark.parametrize("name", ["", ".", "..", "../escape", "a/b", "nul\0"])
def test_invalid_names_are_rejected_before_anything_is_made(cgroup_parent, name):
    driver = cgroups.driver()
    with pytest.raises(InvalidArgument):
        driver.create(name, Limits())
    for method in (driver.destroy, driver.procs, driver.stats, driver.freeze, driver.paths):
        with pytest.raises(InvalidArgument):
            method(name)


def test_operations_on_an_unknown_cgroup_raise_not_found(cgroup_parent):
    driver = cgroups.driver()
    for call in (
        lambda: driver.procs("ghost"),
        lambda: driver.stats("ghost"),
        lambda: driver.freeze("ghost"),
        lambda: driver.thaw("ghost"),
        lambda: driver.oom_kills("ghost"),
        lambda: driver.update("ghost", Limits(pids_limit=5)),
        lambda: driver.attach("ghost", os.getpid()),
        lambda: driver.kill_all("ghost", signal.SIGKILL),
    ):
        with pytest.raises(NotFound, match="cgroup 'ghost' does not exist"):
            call()


@pytest.mark.v1only
def test_failed_create_removes_what_it_made(cgroup_parent):
    driver = V1Driver()
    paths = driver.paths("box")
    # A stranger's pids cgroup of the same name makes create fail after the
    # cpu, cpuacct and memory directories already exist.
    os.makedirs(paths["pids"])
    try:
        with pytest.raises(Conflict):
            driver.create("box", Limits(memory_bytes=8 << 20))
        assert [c for c, p in paths.items() if os.path.exists(p)] == ["pids"]
    finally:
        os.rmdir(paths["pids"])


@pytest.fixture
def memory_only_mount(tmp_path):
    """A cgroup root offering only the v1 memory hierarchy."""
    root = tmp_path / "cgroot"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(root)], check=True)
    try:
        (root / "memory").mkdir()
        subprocess.run(["mount", "-t", "cgroup", "-o", "memory", "cgroup", str(root / "memory")], check=True)
        try:
            yield str(root)
        finally:
            subprocess.run(["umount", str(root / "memory")], check=True)
    finally:
        subprocess.run(["umount", str(root)], check=True)
    with open("/proc/self/mountinfo") as f:
        assert str(root) not in f.read()


@pytest.mark.v1only
def test_missing_v1_controller_raises_not_permitted_and_makes_nothing(cgroup_parent, memory_only_mount):
    driver = V1Driver(mountpoint=memory_only_mount)
    with pytest.raises(NotPermitted, match="cgroup controller 'cpu' is not available"):
        driver.create("box", Limits())
    assert not os.path.exists(f"{memory_only_mount}/memory/{cgroup_parent}")


@pytest.mark.v1only
def test_v2_driver_without_controllers_raises_not_permitted_and_makes_nothing(cgroup_parent):
    unified = "/sys/fs/cgroup/unified"
    if not os.path.exists(f"{unified}/cgroup.controllers"):
        pytest.skip("no cgroup2 mount at /sys/fs/cgroup/unified")
    with pytest.raises(NotPermitted, match="cgroup controller '.*' is not available"):
        V2Driver(mountpoint=unified).create("box", Limits())
    assert not os.path.exists(f"{unified}/{cgroup_parent}")


@pytest.mark.v1only
def test_adopt_renames_a_cgroup_with_its_process_and_limits_it(cg):
    cg.create("spare-1")
    proc = cg.start("spare-1", "import time; time.sleep(60)")
    cg.names.append("box")
    cg.driver.adopt("spare-1", "box", Limits(memory_bytes=48 << 20, pids_limit=7))
    assert cg.driver.procs("box") == [proc.pid]
    assert not [p for p in cg.driver.paths("spare-1").values() if os.path.exists(p)]
    memory = cg.driver.paths("box")["memory"]
    with open(f"{memory}/memory.limit_in_bytes") as f:
        assert int(f.read()) == 48 << 20
    with open(f"{cg.driver.paths('box')['pids']}/pids.max") as f:
        assert f.read().strip() == "7"


@pytest.mark.v1only
def test_a_failed_adopt_leaves_the_spare_as_it_was(cg):
    cg.create("spare-2")
    proc = cg.start("spare-2", "x = bytearray(24 << 20); import time; time.sleep(60)")
    # Its process holds 24 MiB: a 16 MiB limit cannot be set, and nothing is renamed.
    deadline = time.monotonic() + 10
    while cg.driver.stats("spare-2")["memory_bytes"] < 24 << 20:
        assert time.monotonic() < deadline, "the process never filled its memory"
        time.sleep(0.01)
    with pytest.raises(Conflict):
        cg.driver.adopt("spare-2", "box", Limits(memory_bytes=16 << 20))
    assert cg.driver.procs("spare-2") == [proc.pid]
    assert not [p for p in cg.driver.paths("box").values() if os.path.exists(p)]


def test_only_a_v1_driver_adopts(cg):
    assert cg.driver.can_adopt == (HOST_VERSION == "v1")
