"""A lab check whose caller died (its worker killed while the script ran)
leaves its cgroup beside the container's, with the script still in it. The
node's runtime worker, whose checks they are, kills and removes it on its
heartbeat once past the check's deadline, without waiting for another check."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from runtime import Runtime

from processes import REPO

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CALLER = """\
import sys
from runtime import Runtime
Runtime(root=sys.argv[1], cgroup_parent=sys.argv[2]).check(sys.argv[3], b"touch /tmp/check-began; sleep 300\\n",
                                                        timeout=5)
"""


def others_in_pid_namespace(pid1: int) -> list[int]:
    """The live processes of the container besides its pid 1 (a `sleep`, which
    reaps nothing: the killed check's processes stay its zombies)."""
    theirs = os.readlink(f"/proc/{pid1}/ns/pid")
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != pid1:
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == theirs and "Z" not in _state(entry):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _state(pid) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_a_check_whose_caller_was_killed_is_removed_by_the_workers_heartbeat(
        worker, running_container, runtime_env, wait_until):
    runtime = Runtime(root=runtime_env.root, cgroup_parent=runtime_env.cgroup_parent)
    state = runtime.get(running_container.runtime_name)
    caller = subprocess.Popen([sys.executable, "-c", CALLER, str(runtime_env.root), runtime_env.cgroup_parent,
                               state.id], cwd=REPO, start_new_session=True)
    try:
        wait_until(Path(f"/proc/{state.pid}/root/tmp/check-began").exists, timeout=30)
        assert caller.poll() is None
    finally:
        os.kill(caller.pid, signal.SIGKILL)
        caller.wait()
    [left] = runtime.driver.names_like("check-")
    assert left.startswith(f"check-{state.id}-") and others_in_pid_namespace(state.pid)

    # Past the deadline (5 s) and the grace given to a living caller (15 s).
    wait_until(lambda: runtime.driver.names_like("check-") == [], timeout=90)
    wait_until(lambda: others_in_pid_namespace(state.pid) == [], timeout=10)
    assert runtime.get(state.id).status == "running"
