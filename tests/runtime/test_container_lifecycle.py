"""Lifecycle: states, names, errors that leave nothing behind, re-adoption."""

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from container_testing import alive, ignoring, mounts_under

from runtime.config import ContainerConfig
from runtime.errors import Conflict, InvalidArgument, NotFound, TerrariumError
from runtime.lifecycle import Runtime
from runtime.linux import procinfo
from runtime.shim import client as shim_client


def test_create_start_pause_unpause_stop_delete(rt):
    state = rt.create(ContainerConfig(image="busybox", name="life", command=["sleep", "60"]))
    assert state.status == "created" and rt.get("life").id == state.id
    state = rt.start("life")
    assert state.status == "running" and alive(state.pid)
    assert rt.pause("life").status == "paused"
    assert rt.unpause("life").status == "running"
    with pytest.raises(Conflict):
        rt.delete("life")
    state = rt.stop("life", timeout=0.2)
    assert (state.status, state.exit_code) == ("exited", 137)
    assert rt.restart("life", timeout=0.2).status == "running"
    rt.delete("life", force=True)
    with pytest.raises(NotFound):
        rt.get("life")


def test_a_pause_that_races_the_exit_leaves_the_exit_recorded(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sleep", "60"]))
    freeze = rt.driver.freeze

    def freeze_as_the_exit_is_recorded(name):
        freeze(name)
        # The container's shim records its exit between pause's check and its write.
        rt.store.update(name, status="exited", exit_code=0, pid=None)

    rt.driver.freeze = freeze_as_the_exit_is_recorded
    with pytest.raises(Conflict):
        rt.pause(state.id)
    assert rt.store.read(state.id).status == "exited" and not rt.driver.frozen(state.id)
    rt.delete(state.id)


def test_exit_code_and_logs_are_recorded(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", "echo out; echo err >&2; exit 42"]))
    state = rt.wait(state.id)
    assert (state.status, state.exit_code, state.oom_killed) == ("exited", 42, False)
    entries = {(e["stream"], e["data"]) for e in rt.logs(state.id)}
    assert entries == {("stdout", b"out\n"), ("stderr", b"err\n")}


def test_names_are_unique(rt):
    rt.create(ContainerConfig(image="busybox", name="dup", command=["true"]))
    with pytest.raises(Conflict):
        rt.create(ContainerConfig(image="busybox", name="dup", command=["true"]))


@pytest.mark.parametrize("cfg, error", [
    (ContainerConfig(image="nosuchimage"), NotFound),
    (ContainerConfig(image="busybox", name="bad name"), InvalidArgument),
    (ContainerConfig(image="busybox", hostname="-bad-"), InvalidArgument),
    (ContainerConfig(image="busybox", memory_bytes=1024), InvalidArgument),
    (ContainerConfig(image="busybox", command=["/no/such/binary"]), TerrariumError),
])
def test_bad_input_fails_and_leaves_nothing(rt, state_root, cgroup_parent, cfg, error):
    with pytest.raises(error):
        rt.run(cfg)
    assert rt.list(all=True) == []
    assert not [p for p in (state_root / "containers").glob("*") if p.name != ".names"]
    assert not mounts_under(state_root)


def test_a_start_whose_record_cannot_be_written_leaves_no_process(rt, state_root, cgroup_parent):
    # A duration no other test on this machine uses: the search below is machine-wide.
    seconds = str(random.randint(100_000, 999_999))
    state = rt.create(ContainerConfig(image="busybox", command=["sleep", seconds]))
    directory = rt.store.path(state.id)
    # Immutable: not even root can write the running record into it.
    subprocess.run(["chattr", "+i", directory], check=True)
    outcome = []
    starter = threading.Thread(target=lambda: outcome.append(start_error(rt, state.id)))
    try:
        starter.start()
        # Not a timing check: a shim that waited for the command instead of killing it would take days.
        starter.join(60)
    finally:
        subprocess.run(["chattr", "-i", directory], check=True)
    assert not starter.is_alive() and isinstance(outcome[0], TerrariumError)
    assert rt.get(state.id).status == "created"
    assert not [p for p in all_pids() if b"sleep\x00" + seconds.encode() in cmdline(p)]
    assert not any(os.path.exists(f"/sys/fs/cgroup/{c}/{cgroup_parent}/{state.id}") for c in os.listdir("/sys/fs/cgroup"))
    rt.delete(state.id)


def test_a_start_that_cannot_exec_keeps_the_last_record(rt):
    # The shim records the start while pid 1 execs (runtime.shim.supervisor._start):
    # an execve that fails must put the record back as it was.
    state = rt.run(ContainerConfig(image="busybox", command=["/bin/rm", "/bin/rm"]))
    before = rt.wait(state.id)
    assert (before.status, before.exit_code) == ("exited", 0)
    error = start_error(rt, state.id)
    assert isinstance(error, TerrariumError) and "/bin/rm" in str(error)
    after = rt.get(state.id)
    assert after == before


def test_replaced_records_are_unlinked_after_the_start_and_the_exit_are_told(rt):
    # The shim unlinks the records it replaced only after answering (see
    # StateStore.unlink_replaced), but it does unlink them.
    state = rt.run(ContainerConfig(image="busybox", command=["true"]))
    rt.wait(state.id)
    directory = rt.store.path(state.id)
    deadline = time.monotonic() + 10
    while sorted(os.listdir(directory)) != ["state.json", "upper", "work"]:
        assert time.monotonic() < deadline, f"left in the container's directory: {os.listdir(directory)}"
        time.sleep(0.01)


def start_error(rt, cid):
    try:
        rt.start(cid)
    except TerrariumError as exc:
        return exc
    return None


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def test_a_new_runtime_adopts_running_containers(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sleep", "60"]))
    other = Runtime()
    assert other.get(state.id).status == "running"
    other.kill(state.id, signal.SIGKILL)
    assert other.wait(state.id).exit_code == 137


def test_a_reused_pid_is_not_signalled(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sleep", "60"]))
    # Start times count clock ticks (10 ms): a decoy started in the same tick as
    # pid 1 (forked when the start began) would pass for it.
    time.sleep(0.05)
    decoy = subprocess.Popen(["sleep", "60"])
    try:
        assert procinfo.start_time(decoy.pid) != state.pid_start_time
        # A record pointing at a process with another start time: pid reused.
        rt.store.update(state.id, pid=decoy.pid, shim_pid=decoy.pid)
        with pytest.raises(Conflict):
            rt.kill(state.id, signal.SIGKILL)
        assert decoy.poll() is None
        # Marked exited, and its cgroup (with the real container in it) is removed.
        assert rt.get(state.id).status == "exited"
        assert not alive(state.pid)
    finally:
        decoy.kill()
        decoy.wait()


def test_containers_survive_the_sigkill_of_their_controller(rt, state_root):
    code = ("import sys; sys.path.insert(0, '.'); from runtime.lifecycle import Runtime; "
            "from runtime.config import ContainerConfig; "
            "s = Runtime().run(ContainerConfig(image='busybox', command=['sleep', '60'])); "
            "print(s.id, flush=True); import time; time.sleep(60)")
    controller = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    cid = controller.stdout.readline().strip()
    controller.kill()
    controller.wait()
    controller.stdout.close()
    state = rt.get(cid)
    rt.seen_pids.update((state.pid, state.shim_pid))
    assert state.status == "running" and alive(state.pid) and alive(state.shim_pid)
    rt.kill(cid, signal.SIGKILL)
    state = rt.wait(cid)
    assert (state.status, state.exit_code) == ("exited", 137)


def test_the_launcher_reaps_the_shim_it_forked(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["true"]))
    assert rt.wait(state.id).status == "exited"
    # Waited for, the shim is reaped at once: no zombie stays in the launcher.
    assert not os.path.exists(f"/proc/{state.shim_pid}")


def test_stats_many_notices_an_exit_nobody_recorded(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sleep", "60"]))
    assert rt.stats_many()[state.id]["pids"] == 1
    # Shim first, then pid 1: no supervisor is left to write the exit down.
    for pid in (state.shim_pid, state.pid):
        os.kill(pid, signal.SIGKILL)
        # Until reaped (the shim by us, its launcher; pid 1 by the host's init)
        # a zombie still counts in its cgroup.
        deadline = time.monotonic() + 10
        while alive(pid) or os.path.exists(f"/proc/{pid}"):
            shim_client.reap()
            assert time.monotonic() < deadline, f"process {pid} was never reaped"
            time.sleep(0.01)
    assert state.id not in rt.stats_many()
    assert (rt.get(state.id).status, rt.get(state.id).exit_code) == ("exited", 255)


def test_stop_lets_the_command_trap_sigterm(rt):
    script = "trap 'echo caught; exit 3' TERM; echo ready; while true; do sleep 0.05; done"
    state = rt.run(ContainerConfig(image="busybox", name="trapper", command=["sh", "-c", script]))
    wait_for_output(rt, state.id, b"ready\n")
    state = rt.stop(state.id, timeout=30)
    assert (state.status, state.exit_code) == ("exited", 3)
    assert b"caught\n" in b"".join(e["data"] for e in rt.logs(state.id))


def test_command_starts_with_default_sigpipe(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", "yes | head -n 1; echo done"]))
    state = rt.wait(state.id, timeout=30)
    assert state.exit_code == 0
    assert b"".join(e["data"] for e in rt.logs(state.id)) == b"y\ndone\n"


def wait_for_output(rt, ref, expected: bytes, timeout: float = 10) -> None:
    import time

    deadline = time.monotonic() + timeout
    while expected not in b"".join(e["data"] for e in rt.logs(ref)):
        assert time.monotonic() < deadline, f"{expected!r} never appeared in the logs"
        time.sleep(0.05)


def test_a_container_starts_with_no_signal_ignored_that_its_launcher_ignored(rt):
    # Ignored dispositions survive fork and execve: pid 1 resets all of them,
    # glibc's own two real-time signals included.
    with ignoring(signal.SIGHUP, signal.SIGTERM, 32, 33):
        state = rt.run(ContainerConfig(image="busybox", command=["grep", "SigIgn", "/proc/self/status"]))
    rt.wait(state.id)
    assert b"".join(e["data"] for e in rt.logs(state.id)) == b"SigIgn:\t0000000000000000\n"


def test_a_forced_delete_of_a_container_that_ends_meanwhile_succeeds(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sleep", "60"]))
    os.kill(state.pid, signal.SIGKILL)
    assert rt.wait(state.id).status == "exited"
    real_get, reads = rt.get, []

    def first_read_still_running(ref):
        # As a delete that read the record just before the container ended.
        reads.append(ref)
        return state if len(reads) == 1 else real_get(ref)

    rt.get = first_read_still_running
    rt.delete(state.id, force=True)
    del rt.get
    assert rt.list(all=True) == []
