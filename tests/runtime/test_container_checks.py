"""Lab checks: a teacher's script run as root in a student's running
container, on stdin, in a cgroup of its own beside the container's, with a
timeout, an output cap and its own memory and pids limits."""

import os
import subprocess
import sys
import time
import uuid

import pytest

from container_testing import alive
from runtime import CheckResult
from runtime.config import ContainerConfig
from runtime.errors import Conflict, InvalidArgument, TerrariumError

MiB = 1 << 20


def start(rt, command=("sleep", "600"), **options):
    return rt.run(ContainerConfig(image="busybox", name="student", command=list(command), **options))


def ns(pid, kind) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def others_in_pid_namespace(state) -> list[int]:
    """Live host pids in the container's pid namespace besides its pid 1."""
    theirs = ns(state.pid, "pid")
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != state.pid:
            try:
                if ns(entry, "pid") == theirs and alive(int(entry)):
                    found.append(int(entry))
            except (FileNotFoundError, PermissionError):
                continue
    return found


def check_cgroups(rt) -> list[str]:
    return rt.driver.names_like("check-")


def wait_for(condition, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.05)


@pytest.mark.parametrize("userns", ["auto", "host"])
def test_a_passing_check_runs_as_root_in_the_containers_namespaces_with_execs_confinement(rt, userns):
    state = start(rt, userns=userns)
    result = rt.check("student", b"id -u; pwd; for n in user mnt pid net; do readlink /proc/self/ns/$n; done\n"
                                 b"grep -E '^(CapEff|Seccomp):' /proc/self/status\nexit 0\n")
    assert isinstance(result, CheckResult)
    assert (result.exit_code, result.timed_out, result.error, result.truncated) == (0, False, None, False)
    lines = result.output.decode().splitlines()
    assert lines[:6] == ["0", "/", *(ns(state.pid, kind) for kind in ("user", "mnt", "pid", "net"))]
    assert lines[6].split() == ["CapEff:", "00000000a80425fb"] and lines[7].split() == ["Seccomp:", "2"]
    assert (ns(state.pid, "user") != ns(os.getpid(), "user")) == (userns == "auto")
    assert result.duration > 0


def test_a_failing_check_gives_its_exit_code_and_its_output_in_the_order_written(rt):
    start(rt)
    result = rt.check("student", b"echo checking\necho 'FAIL: /etc/motd is missing' >&2\necho done\nexit 3\n")
    assert (result.exit_code, result.error) == (3, None)
    assert result.output == b"checking\nFAIL: /etc/motd is missing\ndone\n"


def test_output_beyond_the_limit_is_dropped_and_marked_truncated(rt):
    start(rt)
    result = rt.check("student", b"yes abcdefghi | head -c 100000\necho the end >&2\n", output_limit=1000)
    assert (result.exit_code, result.truncated, result.output) == (0, True, b"abcdefghi\n" * 100)
    whole = rt.check("student", b"yes abcdefghi | head -c 1000\n", output_limit=1000)
    assert (whole.truncated, whole.output) == (False, b"abcdefghi\n" * 100)


@pytest.mark.parametrize("userns", ["auto", "host"])
def test_at_the_timeout_every_process_of_the_check_is_killed_and_its_cgroup_removed(rt, userns):
    state = start(rt, userns=userns)
    script = b"(trap '' HUP TERM; exec sleep 1001) &\nsetsid sleep 1002 &\necho started\nsleep 1003\n"
    result = rt.check("student", script, timeout=1)
    assert (result.exit_code, result.timed_out, result.output) == (None, True, b"started\n")
    assert "timed out" in result.error
    assert others_in_pid_namespace(state) == []
    assert check_cgroups(rt) == []


def test_daemons_of_a_check_that_ended_are_killed_with_it(rt):
    state = start(rt)
    result = rt.check("student", b"setsid sleep 1004 >/dev/null 2>&1 &\nexit 0\n")
    assert (result.exit_code, result.timed_out) == (0, False)
    assert others_in_pid_namespace(state) == []
    assert check_cgroups(rt) == []


def test_a_missing_interpreter_gives_127_and_says_which(rt):
    start(rt)
    result = rt.check("student", b"#!/usr/bin/python3\nprint('hello')\n")
    assert (result.exit_code, result.timed_out) == (127, False)
    assert "/usr/bin/python3" in result.error and b"/usr/bin/python3" in result.output
    assert check_cgroups(rt) == []


def test_the_interpreter_line_with_its_argument_is_followed(rt):
    start(rt)
    result = rt.check("student", b"#!/bin/sh -e\necho one\nfalse\necho not reached\n")
    assert (result.exit_code, result.output) == (1, b"one\n")


def test_the_check_gets_the_containers_environment_and_its_own(rt):
    start(rt, env={"FROM_CONFIG": "yes"})
    result = rt.check("student", b'echo "$LAB_PORT $FROM_CONFIG $HOSTNAME"\n', env={"LAB_PORT": "8042"})
    assert result.output == b"8042 yes student\n"


def test_the_script_is_read_from_a_pipe_and_never_written_into_the_container(rt):
    state = start(rt)
    marker = f"marker-{uuid.uuid4().hex}"
    result = rt.check("student", f"# {marker}\nreadlink /proc/$$/fd/0\n".encode())
    assert result.output.startswith(b"pipe:[")
    upper = rt.store.path(state.id) + "/upper"
    for directory, _, names in os.walk(upper):
        for name in names:
            path = os.path.join(directory, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    assert marker.encode() not in f.read(), path
    search = rt.check("student", f"grep -rl {marker} /tmp /dev/shm /run /root /etc || true\n".encode())
    assert search.output == b""


def test_a_check_passes_while_a_fork_bomb_holds_every_pid_of_the_container(rt):
    state = start(rt, pids_limit=32)
    bomb = rt.exec("student", ["sh", "-c", "while :; do sleep 1000 & done"])
    # The shell leaves at the first fork refused; what it started stays.
    bomb.wait()
    sessions = [bomb]
    with pytest.raises(TerrariumError):
        while len(sessions) < 64:
            sessions.append(rt.exec("student", ["sleep", "1000"]))
    try:
        assert rt.stats(state.id)["pids"] == 32
        result = rt.check("student", b"echo alive; sleep 0.1 & wait; exit 0\n")
        assert (result.exit_code, result.output, result.error) == (0, b"alive\n", None)
    finally:
        rt.delete(state.id, force=True)
        for session in sessions:
            session.wait()
            session.close()


def test_a_check_passes_while_a_memory_hog_holds_all_of_the_containers_memory(rt):
    # /dev/shm's pages cannot be reclaimed (no swap) and belong to no process an OOM kill could end.
    hog = "(echo 1000 > /proc/self/oom_score_adj; exec cat /dev/zero > /dev/shm/fill); exec sleep 600"
    state = start(rt, ["sh", "-c", hog], memory_bytes=32 * MiB)
    wait_for(lambda: rt.stats(state.id)["memory_bytes"] >= 31 * MiB, "full memory limit")
    result = rt.check("student", b"echo alive; ls /dev/shm\n")
    assert (result.exit_code, result.output, result.error) == (0, b"alive\nfill\n", None)
    assert rt.get(state.id).status == "running"


def test_a_checks_own_memory_hog_is_killed_by_its_own_limit_and_the_container_is_untouched(rt):
    state = start(rt, memory_bytes=256 * MiB)
    result = rt.check("student", b"dd if=/dev/zero of=/dev/null bs=48M count=1\n", memory=16 * MiB)
    assert result.exit_code == 137 and "memory limit" in result.error
    assert rt.get(state.id).status == "running" and rt.stats(state.id)["oom_kills"] == 0
    assert rt.check("student", b"dd if=/dev/zero of=/dev/null bs=8M count=1 2>/dev/null\n").exit_code == 0


def test_a_paused_or_stopped_container_is_refused_and_nothing_runs(rt):
    state = start(rt)
    rt.pause(state.id)
    with pytest.raises(Conflict, match="paused"):
        rt.check("student", b"touch /ran\n")
    rt.unpause(state.id)
    assert rt.check("student", b"ls /ran\n").exit_code != 0
    rt.stop(state.id, timeout=0.1)
    with pytest.raises(Conflict, match="not running"):
        rt.check("student", b"exit 0\n")
    assert check_cgroups(rt) == []


@pytest.mark.parametrize("limits", [{"timeout": 0}, {"timeout": -1}, {"timeout": 60.5}, {"memory": 5 * MiB},
                                    {"pids": 7}])
def test_bad_limits_are_refused_before_anything_runs(rt, limits):
    start(rt)
    with pytest.raises(InvalidArgument):
        rt.check("student", b"touch /ran\n", **limits)
    assert rt.check("student", b"ls /ran\n").exit_code != 0


def cli(*args, script: bytes):
    return subprocess.run([sys.executable, "-m", "runtime", "check", *args], input=script, capture_output=True,
                          timeout=60)


def test_the_cli_prints_the_output_and_exits_as_timeout_does(rt):
    state = start(rt)
    failed = cli("-e", "WANT=42", "student", script=b'echo "FAIL: want $WANT"; exit 3\n')
    assert (failed.returncode, failed.stdout) == (3, b"FAIL: want 42\n")
    assert cli("student", script=b"exit 0\n").returncode == 0
    assert cli("--timeout", "0.5", "student", script=b"sleep 30\n").returncode == 124
    assert cli("--memory", "16m", "student", script=b"dd if=/dev/zero of=/dev/null bs=48M count=1\n").returncode == 137
    rt.pause(state.id)
    paused = cli("student", script=b"exit 0\n")
    assert paused.returncode == 125 and b"paused" in paused.stderr
    rt.unpause(state.id)
    assert cli("nobody", script=b"exit 0\n").returncode == 125
