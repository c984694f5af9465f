"""Runtime(forker=True): shims are forked by a small helper process, not by the caller."""

import gc
import os
import select
import signal
import subprocess
import time

import pytest

from runtime import cgroups
from runtime.config import ContainerConfig
from runtime.errors import NotFound, TerrariumError
from runtime.forker.server import SPARE_CGROUP_PREFIX
from runtime.image.store import ImageStore
from runtime.lifecycle import Runtime
from runtime.linux import procinfo

from container_testing import TrackedRuntime, alive, ignoring, left_running, mounts_under, run


def forkers(ignore=()) -> list[int]:
    """This process's children running runtime.forker.server, less `ignore` (forkers
    that earlier tests in this process, e.g. the dashboard's, left running)."""
    found = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            for pid in map(int, f.read().split()):
                if b"runtime.forker" in command_line(pid) and pid not in ignore:
                    found.append(pid)
    return found


def command_line(pid: int) -> list[bytes]:
    # Empty, or still ours, while a child's execve is under way: Popen can
    # return before it is through (seen on the slow cgroup v2 VM).
    with open("/proc/self/cmdline", "rb") as f:
        ours = f.read()
    deadline = time.monotonic() + 5
    while True:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            line = f.read()
        if (line and line != ours) or time.monotonic() > deadline:
            return line.split(b"\0")
        time.sleep(0.01)

def sleeper(rt):
    return rt.run(ContainerConfig(image="busybox", command=["sleep", "600"]))


@pytest.fixture
def frt(state_root, cgroup_parent, busybox_tar):
    ImageStore(state_root).import_archive(busybox_tar, name="busybox")
    runtime = TrackedRuntime(forker=True)
    runtime.earlier_forkers = set(forkers())
    yield runtime
    for state in runtime.list(all=True):
        runtime.delete(state.id, force=True)
    runtime.close()
    assert not forkers(runtime.earlier_forkers), "forker left running"
    assert not mounts_under(state_root), "mounts left under the state root"
    assert not left_running(runtime.seen_pids), "container or shim processes left"


def test_containers_run_and_stop_through_the_forker(frt):
    state = frt.run(ContainerConfig(image="busybox", command=["sh", "-c", "echo hello; exit 3"]))
    assert frt.wait(state.id).exit_code == 3
    assert b"".join(e["data"] for e in frt.logs(state.id)) == b"hello\n"

    state = sleeper(frt)
    [forker] = forkers(frt.earlier_forkers)
    # The forker's zygote, not the caller, forked it and reaps it.
    assert procinfo.parent(state.shim_pid) == zygote(forker)
    assert frt.stop(state.id, timeout=5).status == "exited"


def test_the_forker_leaves_no_zombie_shims(frt):
    state = frt.run(ContainerConfig(image="busybox", command=["true"]))
    frt.wait(state.id)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{state.shim_pid}"):
        assert time.monotonic() < deadline, "the forker never reaped the shim"
        time.sleep(0.01)

def zygote(forker: int) -> int:
    """The process that forks the forker's spares, its only child."""
    [pid] = procinfo.children(forker)
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == "terrarium-zyg"
    return pid


def spares(forker: int) -> list[tuple[int, int]]:
    """(shim, pid 1) of the forker's spares once both are forked: the one
    handed over ahead to the Runtime for its next start, and the one the
    forker keeps for the start after."""
    deadline = time.monotonic() + 10
    while True:
        found = []
        for shim in procinfo.children(zygote(forker)):
            try:
                found.append((shim, procinfo.children(shim)))
            except FileNotFoundError:
                pass  # a container's shim that has just left
        if len(found) == 2 and all(len(inits) == 1 for _, inits in found):
            return sorted((shim, inits[0]) for shim, inits in found)
        assert time.monotonic() < deadline, f"not two shims forked ahead: {found}"
        time.sleep(0.01)


def test_the_forker_keeps_the_next_shims_forked_with_their_namespaces_made(frt):
    state = frt.run(ContainerConfig(image="busybox", command=["true"]))
    frt.wait(state.id)
    [forker] = forkers(frt.earlier_forkers)
    kinds = ("pid", "mnt", "uts", "ipc", "net")
    for shim, init in spares(forker):
        # Forked is not yet ready: pid 1 makes its namespaces as soon as it runs.
        deadline = time.monotonic() + 10
        while any(os.readlink(f"/proc/{init}/ns/{k}") == os.readlink(f"/proc/self/ns/{k}") for k in kinds):
            assert time.monotonic() < deadline, "the spare pid 1 never made its namespaces"
            time.sleep(0.01)
        assert [open(f"/proc/{p}/comm").read().strip() for p in (forker, zygote(forker), shim, init)] == \
            ["terrarium-fork", "terrarium-zyg", "terrarium-shim", "terrarium-init"]
        # Nothing of a container yet: no state; a cgroup only where a start can
        # rename it for its container (v1), which pid 1 has made its cgroup
        # namespace's root already.
        with open(f"/proc/{init}/cgroup") as f:
            joined = {line.rstrip().rsplit("/", 1)[-1] for line in f if line.split(":")[1]}
        if frt.driver.can_adopt:
            assert len([c for c in joined if c.startswith(SPARE_CGROUP_PREFIX)]) == 1
            assert os.readlink(f"/proc/{init}/ns/cgroup") != os.readlink("/proc/self/ns/cgroup")
        else:
            assert os.readlink(f"/proc/{init}/ns/cgroup") == os.readlink("/proc/self/ns/cgroup")
    assert [s.id for s in frt.list(all=True)] == [state.id]

    made, forked = spares(forker), zygote(forker)
    frt.close()
    assert not any(alive(p) for pair in made for p in pair)
    assert not alive(forked)


def test_the_next_start_uses_the_spare_handed_over_ahead(frt):
    frt.wait(frt.run(ContainerConfig(image="busybox", command=["true"])).id)
    [forker] = forkers(frt.earlier_forkers)
    first, _ = spares(forker)
    assert sleeper(frt).pid == first[1]


def test_spares_made_before_a_host_mount_change_are_not_used(frt, tmp_path):
    frt.wait(frt.run(ContainerConfig(image="busybox", command=["true"])).id)
    [forker] = forkers(frt.earlier_forkers)
    made = spares(forker)
    (tmp_path / "mnt").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "none", str(tmp_path / "mnt")], check=True)
    try:
        state = sleeper(frt)
    finally:
        subprocess.run(["umount", str(tmp_path / "mnt")], check=True)
    # Neither the one handed over ahead (the Runtime checks) nor the forker's (it checks).
    assert state.status == "running" and state.pid not in [init for _, init in made]
    assert not any(alive(init) for _, init in made)


def test_a_container_from_the_forker_starts_with_no_signal_ignored(frt):
    # Which signals pid 1 must reset is read once by the forker (init.host_facts):
    # the shim's own ignored ones, and those the forker inherited, glibc's two included.
    with ignoring(signal.SIGHUP, 32):
        for _ in range(2):
            assert run(frt, ["grep", "SigIgn", "/proc/self/status"]) == (0, "SigIgn:\t0000000000000000\n")


def test_spares_are_made_at_low_priority_and_containers_run_at_the_default(frt):
    frt.wait(frt.run(ContainerConfig(image="busybox", command=["true"])).id)
    [forker] = forkers(frt.earlier_forkers)
    for shim, init in spares(forker):
        assert os.getpriority(os.PRIO_PROCESS, shim) == os.getpriority(os.PRIO_PROCESS, init) == 19
    for _ in range(2):
        _, stat = run(frt, ["cat", "/proc/self/stat"])
        # Field 19, the nice value, counted after the command name's closing parenthesis.
        assert stat[stat.rindex(")") + 2:].split()[16] == "0"


@pytest.mark.v1only
def test_a_cgroup_hierarchy_mounted_after_the_forker_started_is_in_the_next_container(frt):
    # The forker reads the host's hierarchies once, and again after a mount change.
    assert run(frt, ["true"]) == (0, "")
    name = f"terrarium-test-{os.getpid()}"
    point = f"/sys/fs/cgroup/{name}"
    os.mkdir(point)
    try:
        subprocess.run(["mount", "-t", "cgroup", "-o", f"none,name={name}", "cgroup", point], check=True)
        try:
            listed = run(frt, ["ls", "/sys/fs/cgroup"])[1].split()
        finally:
            subprocess.run(["umount", point], check=True)
    finally:
        os.rmdir(point)
    assert name in listed and "memory" in listed


def test_spares_whose_pid_1_died_are_not_used(frt):
    frt.wait(frt.run(ContainerConfig(image="busybox", command=["true"])).id)
    [forker] = forkers(frt.earlier_forkers)
    made = spares(forker)
    for shim, init in made:
        os.kill(init, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{shim}") for shim, _ in made):
        assert time.monotonic() < deadline, "a spare shim stayed after its pid 1 died"
        time.sleep(0.01)
    state = sleeper(frt)
    assert state.status == "running" and state.pid not in [init for _, init in made]


def test_attach_passes_through_the_forker(frt):
    state, conn = frt.run(ContainerConfig(image="busybox", command=["echo", "attached"]), attach=True)
    frames = []
    while (message := conn.read()) is not None:
        frames.append(message)
        if message[0] == b"x":
            break
    conn.close()
    assert (b"o", b"attached\n") in frames and frames[-1] == (b"x", b"0")


def test_a_failed_start_reports_the_runtime_message(frt):
    with pytest.raises(TerrariumError, match="executable file not found in \\$PATH: nope"):
        frt.run(ContainerConfig(image="busybox", command=["nope"]))


def test_a_killed_zygote_is_replaced_and_starts_go_on(frt):
    sleeper(frt)
    [forker] = forkers(frt.earlier_forkers)
    killed = zygote(forker)
    pidfd = os.pidfd_open(killed)
    os.kill(killed, signal.SIGKILL)
    select.select([pidfd], [], [])
    os.close(pidfd)
    for _ in range(3):
        assert sleeper(frt).status == "running"
    assert zygote(forker) != killed


def kill_forker(frt) -> tuple[int, list[int]]:
    """SIGKILL the Runtime's forker; (its pid, its zygote and the spare shims that forked)."""
    [forker] = forkers(frt.earlier_forkers)
    forked = zygote(forker)
    spare_shims = [p for p in procinfo.children(forked) if p not in frt.seen_pids]
    pidfd = os.pidfd_open(forker)
    os.kill(forker, signal.SIGKILL)
    select.select([pidfd], [], [])
    os.close(pidfd)
    return forker, [forked, *spare_shims]


def orphaned_spares_leave(frt, spare_shims) -> None:
    # A killed forker's zygote, and its spares that no start took, see their
    # sockets close and leave by themselves, the spares removing their cgroups first.
    taken = {state.shim_pid for state in frt.list(all=True)}
    assert not left_running([p for p in spare_shims if p not in taken])


def test_a_killed_forker_spares_running_containers_and_is_restarted(frt):
    first = sleeper(frt)
    forker, spare_shims = kill_forker(frt)

    assert frt.get(first.id).status == "running" and alive(first.pid) and alive(first.shim_pid)
    second = sleeper(frt)
    assert second.status == "running"
    assert forkers(frt.earlier_forkers) and forkers(frt.earlier_forkers) != [forker]
    assert frt.get(first.id).status == "running"
    orphaned_spares_leave(frt, spare_shims)


def test_no_forker_is_left_after_close_or_garbage_collection(state_root, cgroup_parent, busybox_tar):
    ImageStore(state_root).import_archive(busybox_tar, name="busybox")
    earlier = set(forkers())
    rt = Runtime(forker=True)
    state = sleeper(rt)
    assert len(forkers(earlier)) == 1
    rt.close()
    assert not forkers(earlier)
    assert rt.get(state.id).status == "running"

    rt.delete(sleeper(rt).id, force=True)
    assert len(forkers(earlier)) == 1
    rt.delete(state.id, force=True)
    del rt
    gc.collect()
    assert not forkers(earlier)


def trash_emptied(frt) -> None:
    deadline = time.monotonic() + 10
    while os.path.exists(frt.store.trash) and os.listdir(frt.store.trash):
        assert time.monotonic() < deadline, "the forker never emptied the trash"
        time.sleep(0.01)


def test_a_deleted_container_is_gone_at_once_and_its_files_soon_after(frt):
    state = frt.run(ContainerConfig(image="busybox", name="short", command=["sh", "-c", "echo x > /kept"]))
    frt.wait(state.id)
    frt.delete(state.id)
    # Gone for every reader when delete returns: no record, no name, no directory.
    assert not os.path.exists(frt.store.path(state.id)) and frt.list(all=True) == []
    with pytest.raises(NotFound):
        frt.get("short")
    assert not os.path.lexists(f"{frt.store.names}/short")
    # The files, and the name's link, go from the trash between starts, or once the forker is idle.
    trash_emptied(frt)
    assert frt.create(ContainerConfig(image="busybox", name="short", command=["true"])).name == "short"


def test_a_killed_forkers_trash_is_emptied_by_the_next_one(frt):
    state = sleeper(frt)
    forker, spare_shims = kill_forker(frt)
    frt.delete(state.id, force=True)
    # delete found it dead and started another, which empties what was left.
    assert forkers(frt.earlier_forkers) and forkers(frt.earlier_forkers) != [forker]
    trash_emptied(frt)
    orphaned_spares_leave(frt, spare_shims)


@pytest.mark.v1only
def test_a_new_forker_removes_the_spare_cgroups_of_a_dead_one_only(frt):
    dead = subprocess.Popen(["true"])
    dead_started = procinfo.start_time(dead.pid)
    dead.wait()
    # Made by a forker that died, and by one that lives (this process stands in for it).
    orphan = f"{SPARE_CGROUP_PREFIX}{dead.pid}-{dead_started}-0"
    living = f"{SPARE_CGROUP_PREFIX}{os.getpid()}-{procinfo.start_time(os.getpid())}-0"
    for name in (orphan, living):
        frt.driver.create(name, cgroups.Limits())
    try:
        sleeper(frt)  # starts the forker
        assert frt.driver.names_like(SPARE_CGROUP_PREFIX + str(dead.pid)) == []
        assert frt.driver.names_like(living) == [living]
    finally:
        frt.driver.destroy(living)
        frt.driver.destroy(orphan)
