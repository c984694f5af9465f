"""Runtime.wait: a Runtime that started a container hears of its exit from
the shim's channel, as soon as the exit is recorded; any other Runtime
watches the shim's pid. Both give the recorded exit."""

import os
import signal
import time


from runtime import lifecycle
from runtime.config import ContainerConfig
from runtime.lifecycle import Runtime


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_wait_gives_the_recorded_exit_to_the_runtime_that_started_it(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", "exit 7"]))
    state = rt.wait(state.id)
    assert (state.status, state.exit_code, state.pid) == ("exited", 7, None)


def test_wait_gives_the_recorded_exit_to_another_runtime(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", "sleep 0.2; exit 5"]))
    assert (Runtime().wait(state.id).status, Runtime().wait(state.id).exit_code) == ("exited", 5)
    assert rt.wait(state.id).exit_code == 5


def test_a_wait_that_timed_out_leaves_the_exit_to_a_later_wait(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sleep", "30"]))
    assert rt.wait(state.id, timeout=0.1).status == "running"
    rt.kill(state.id, signal.SIGKILL)
    state = rt.wait(state.id, timeout=30)
    assert (state.status, state.exit_code) == ("exited", 137)


def test_wait_returns_when_the_shim_dies_without_recording(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sleep", "30"]))
    os.kill(state.shim_pid, signal.SIGKILL)
    # No supervisor left: the container runs on, and wait says so instead of hanging.
    assert rt.wait(state.id, timeout=30).status == "running"
    os.kill(state.pid, signal.SIGKILL)


def test_a_runtime_keeps_no_descriptor_per_container_it_never_waited_for(rt):
    before = open_fds()
    for _ in range(lifecycle.EXIT_CHANNELS_PRUNED_AT + 10):
        rt.run(ContainerConfig(image="busybox", command=["true"]))
    # Those that have exited gave their channel back when the limit was reached.
    assert open_fds() - before <= lifecycle.EXIT_CHANNELS_PRUNED_AT
    for state in rt.list(all=True):
        assert rt.wait(state.id, timeout=30).status == "exited"
    assert open_fds() <= before


def test_waiting_for_containers_that_already_exited_leaves_no_zombie_shims(rt):
    states = [rt.run(ContainerConfig(image="busybox", command=["true"])) for _ in range(5)]
    for state in states:
        # Exited before anyone waits: recorded, and the shim gone or going.
        while rt.get(state.id).status != "exited":
            time.sleep(0.01)
    for state in states:
        rt.wait(state.id)
    deadline = time.monotonic() + 10
    # A shim in its exit teardown is not yet a zombie: give it the moment it takes.
    while any(os.path.exists(f"/proc/{s.shim_pid}") for s in states):
        assert time.monotonic() < deadline, "a shim this process forked was left unreaped"
        rt.wait(states[0].id)
        time.sleep(0.01)
