"""A lab's scripts in a container, on the worker's side: setup, checks and
solves through the runtime's check (on stdin, as root, in a cgroup of their
own with its own limits, killed as a group at the timeout).

Checks run at most as many at once as this node has cores: one runtime
worker process per node runs them all, and each holds one of `_check_slots`
while its script runs; more wait in their worker thread."""

import os
import threading

from dashboard.containers.models import Container
from dashboard.containers.node import node_runtime
from dashboard.labs.models import OUTPUT_LIMIT
from dashboard.labs.outcomes import check_outcome
from dashboard.labs.substitute import substitute

SETUP_TIMEOUT = 60.0
SETUP_MEMORY = 256 << 20
SETUP_PIDS = 256
CHECK_MEMORY = 64 << 20
CHECK_PIDS = 64
_check_slots = threading.BoundedSemaphore(os.cpu_count() or 1)


def _run(container: Container, script: str, *, env: dict, timeout: float, memory: int, pids: int):
    return node_runtime().check(
        container.runtime_id or container.runtime_name, script.encode(), env=env, timeout=timeout,
        memory=memory, pids=pids, output_limit=OUTPUT_LIMIT,
    )


def sweep_abandoned_checks() -> None:
    """What checks whose caller died left behind (a worker killed while one
    ran): their cgroup's processes killed and the cgroup removed, once past
    the check's deadline. The runtime worker's heartbeat calls it: the
    worker runs this node's checks, and another check may never come."""
    node_runtime().sweep_checks()


def run_setup(container: Container, setup: str, values: dict) -> tuple[bool, str]:
    """The lab's setup (or a solve) with the student's params -> (whether it
    succeeded, its output and, if not, why). TerrariumError if it cannot run."""
    result = _run(container, substitute(setup, values), env=values, timeout=SETUP_TIMEOUT,
                  memory=min(container.memory_bytes or SETUP_MEMORY, SETUP_MEMORY), pids=SETUP_PIDS)
    output = result.output.decode(errors="replace")
    if result.exit_code == 0 and not result.timed_out and result.error is None:
        return True, output
    why = check_outcome(result=result, fail=f"exit {result.exit_code}", timeout=SETUP_TIMEOUT).message
    return False, f"{why}\n{output}".strip()


def run_check(container: Container, check: dict, values: dict, *, started=None):
    """A step's check with the student's params, once a slot is free -> the
    runtime's CheckResult. `started()` is called when its slot is taken and
    may return False to give the slot back without running."""
    with _check_slots:
        if started is not None and not started():
            return None
        return _run(container, substitute(check["run"], values), env=values, timeout=check["timeout"],
                    memory=CHECK_MEMORY, pids=CHECK_PIDS)
