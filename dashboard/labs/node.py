"""Labs, the worker's side: runs as root on the instance's node.

Every function takes an id and trusts nothing else it is handed: the
instance's container must be on this node and owned by the instance's
student, the step must be in the lab. Scripts reach the container through
the runtime's check (on stdin, as root, in a cgroup of their own, killed as
a group at their timeout), never written into it.

Checks run at most as many at once as this node has cores: one runtime
worker process per node runs them all, and each holds one of `_check_slots`
while its script runs; more wait in their worker thread, in order of arrival."""

import os
import threading
import time

from django.conf import settings
from django.utils import timezone

from runtime import TerrariumError

from dashboard.containers.models import Container
from dashboard.containers.node import _runtime, container_launch_on_node
from dashboard.labs.models import OUTPUT_LIMIT, CheckRun, LabInstance
from dashboard.labs.outcomes import check_outcome
from dashboard.labs.push import instance_changed
from dashboard.labs.selectors import lab_values
from dashboard.labs.substitute import substitute

I = LabInstance.Status
R = CheckRun.State
SETUP_TIMEOUT = 60.0
SETUP_MEMORY = 256 << 20
SETUP_PIDS = 256
CHECK_MEMORY = 64 << 20
CHECK_PIDS = 64
_check_slots = threading.BoundedSemaphore(os.cpu_count() or 1)


def _on_this_node(instance: LabInstance) -> Container | None:
    container = instance.container
    if container is None or container.node is None or container.node.name != settings.NODE_NAME:
        return None
    return container if container.owner_id == instance.student_id else None


def _mark_instance(instance_id: int, *, expect, **fields) -> bool:
    return bool(LabInstance.objects.filter(id=instance_id, status=expect).update(**fields))


def _run_script(container: Container, script: str, *, env: dict, timeout: float, memory: int, pids: int):
    return _runtime().check(
        container.runtime_id or container.runtime_name, script.encode(), env=env, timeout=timeout,
        memory=memory, pids=pids, output_limit=OUTPUT_LIMIT,
    )


def lab_instance_prepare_on_node(*, instance_id: int) -> None:
    """Bring the instance's container up (or wait for its launch in flight),
    run the lab's setup in it, and make the instance ready or failed."""
    instance = LabInstance.objects.select_related("lab", "container", "container__node").filter(
        id=instance_id, status=I.CREATING).first()
    if instance is None:
        return
    container = _on_this_node(instance)
    if container is None:
        _fail(instance, "The instance's container is not on this node or not its student's.")
        return
    # The container's own task may be launching it: this waits for it, then does nothing.
    container_launch_on_node(container_id=container.id)
    container.refresh_from_db()
    if container.status != Container.Status.RUNNING:
        _fail(instance, f"The container did not start: {container.status_detail or container.status}.")
        return
    if not _mark_instance(instance_id, expect=I.CREATING, status=I.SETTING_UP):
        return
    instance_changed(instance_group=instance.group)
    setup = substitute(instance.lab.definition["setup"], values := lab_values(lab=instance.lab,
                                                                                student_id=instance.student_id))
    if not setup.strip():
        _ready(instance, "")
        return
    try:
        result = _run_script(container, setup, env=values, timeout=SETUP_TIMEOUT,
                             memory=min(container.memory_bytes or SETUP_MEMORY, SETUP_MEMORY),
                             pids=SETUP_PIDS)
    except TerrariumError as exc:
        _fail(instance, f"The setup could not run: {exc}", expect=I.SETTING_UP)
        return
    except Exception as exc:
        _fail(instance, f"The setup could not run: {exc}", expect=I.SETTING_UP)
        raise
    output = result.output.decode(errors="replace")
    if result.exit_code == 0 and not result.timed_out and result.error is None:
        _ready(instance, output)
        return
    outcome = check_outcome(result=result, fail=f"The setup failed (exit {result.exit_code}).", timeout=SETUP_TIMEOUT)
    _fail(instance, f"{outcome.message}\n{output}".strip(), expect=I.SETTING_UP)


def _ready(instance: LabInstance, output: str) -> None:
    if _mark_instance(instance.pk, expect=I.SETTING_UP, status=I.READY, setup_output=output, ready_at=timezone.now()):
        instance_changed(instance_group=instance.group)


def _fail(instance: LabInstance, output: str, *, expect=I.CREATING) -> None:
    if _mark_instance(instance.pk, expect=expect, status=I.FAILED, setup_output=output):
        instance_changed(instance_group=instance.group)


def _finish(run: CheckRun, *, expect, **fields) -> None:
    if CheckRun.objects.filter(id=run.pk, state=expect).update(**fields):
        instance_changed(instance_group=run.instance.group, step_id=run.step_id)


def lab_check_run_on_node(*, check_run_id: int) -> None:
    """Run a queued check in the instance's container and record its outcome."""
    run = CheckRun.objects.select_related("instance__lab", "instance__container__node").filter(
        id=check_run_id, state=R.QUEUED).first()
    if run is None:
        return
    instance = run.instance
    step = instance.lab.step(run.step_id)
    container = _on_this_node(instance)
    if step is None or container is None or instance.status != I.READY:
        _finish(run, expect=R.QUEUED, state=R.ERROR, message="The check cannot run: the lab or its instance changed.")
        return
    values = lab_values(lab=instance.lab, student_id=instance.student_id)
    check = step["check"]
    with _check_slots:
        if not CheckRun.objects.filter(id=run.pk, state=R.QUEUED).update(state=R.RUNNING, started_at=timezone.now()):
            return
        instance_changed(instance_group=instance.group, step_id=run.step_id)
        began = time.monotonic()
        try:
            result = _run_script(container, substitute(check["run"], values), env=values, timeout=check["timeout"],
                                 memory=CHECK_MEMORY, pids=CHECK_PIDS)
        except TerrariumError as exc:
            _finish(run, expect=R.RUNNING, state=R.ERROR, message=f"The check could not run: {exc}",
                    duration=time.monotonic() - began)
            return
        except Exception as exc:
            # A run left "running" would hold its step's Check button forever.
            _finish(run, expect=R.RUNNING, state=R.ERROR, message=f"The check could not run: {exc}",
                    duration=time.monotonic() - began)
            raise
        elapsed = time.monotonic() - began
    outcome = check_outcome(result=result, fail=substitute(check["fail"], values), timeout=check["timeout"])
    _finish(
        run, expect=R.RUNNING, state=outcome.state, message=outcome.message, exit_code=result.exit_code,
        duration=result.duration if result.duration is not None else elapsed,
        output=result.output.decode(errors="replace"), truncated=result.truncated,
    )
