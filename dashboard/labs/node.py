"""Labs, the worker's side: runs as root on the instance's node.

Every function takes an id and trusts nothing else it is handed: the
instance's container must be on this node and owned by the instance's
student, the step must be in the lab. Scripts reach the container through
`dashboard.labs.scripts`, never written into it."""

import time

from celery import current_app
from django.conf import settings
from django.utils import timezone

from runtime import TerrariumError

from dashboard.containers.models import Container
from dashboard.containers.node import container_launch_on_node
from dashboard.containers.services import container_delete
from dashboard.labs.models import CheckRun, Lab, LabInstance
from dashboard.labs.outcomes import check_outcome
from dashboard.labs.push import instance_changed
from dashboard.labs.scripts import run_check, run_setup
from dashboard.labs.selectors import lab_values
from dashboard.labs.substitute import substitute
from dashboard.nodes.queues import node_queue

I = LabInstance.Status
R = CheckRun.State


def on_this_node(container: Container | None, owner_id: int) -> Container | None:
    """The container, if it runs on this node and belongs to `owner_id`."""
    if container is None or container.node is None or container.node.name != settings.NODE_NAME:
        return None
    return container if container.owner_id == owner_id else None


def _mark_instance(instance_id: int, *, expect, **fields) -> bool:
    return bool(LabInstance.objects.filter(id=instance_id, status=expect).update(**fields))


def lab_instance_prepare_on_node(*, instance_id: int) -> None:
    """Bring the instance's container up (or wait for its launch in flight),
    run the lab's setup in it, and make the instance ready or failed."""
    instance = LabInstance.objects.select_related("lab", "container", "container__node").filter(
        id=instance_id, status=I.CREATING).first()
    if instance is None:
        return
    container = on_this_node(instance.container, instance.student_id)
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
    setup = instance.lab.definition["setup"]
    if not setup.strip():
        _ready(instance, "")
        return
    try:
        ok, output = run_setup(container, setup, lab_values(lab=instance.lab, student_id=instance.student_id))
    except TerrariumError as exc:
        _fail(instance, f"The setup could not run: {exc}", expect=I.SETTING_UP)
        return
    except Exception as exc:
        _fail(instance, f"The setup could not run: {exc}", expect=I.SETTING_UP)
        raise
    if ok:
        _ready(instance, output)
    else:
        _fail(instance, f"The setup failed: {output}", expect=I.SETTING_UP)


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
    container = on_this_node(instance.container, instance.student_id)
    if step is None or container is None or instance.status != I.READY:
        _finish(run, expect=R.QUEUED, state=R.ERROR, message="The check cannot run: the lab or its instance changed.")
        return
    values = lab_values(lab=instance.lab, student_id=instance.student_id)
    check = step["check"]

    def started() -> bool:
        if not CheckRun.objects.filter(id=run.pk, state=R.QUEUED).update(state=R.RUNNING, started_at=timezone.now()):
            return False
        instance_changed(instance_group=instance.group, step_id=run.step_id)
        return True

    began = time.monotonic()
    try:
        result = run_check(container, check, values, started=started)
    except TerrariumError as exc:
        _finish(run, expect=R.RUNNING, state=R.ERROR, message=f"The check could not run: {exc}",
                duration=time.monotonic() - began)
        return
    except Exception as exc:
        # A run left "running" would hold its step's Check button forever.
        _finish(run, expect=R.RUNNING, state=R.ERROR, message=f"The check could not run: {exc}",
                duration=time.monotonic() - began)
        raise
    if result is None:
        return
    outcome = check_outcome(result=result, fail=substitute(check["fail"], values), timeout=check["timeout"])
    _finish(
        run, expect=R.RUNNING, state=outcome.state, message=outcome.message, exit_code=result.exit_code,
        duration=result.duration, output=result.output.decode(errors="replace"), truncated=result.truncated,
    )


RESTARTED = "The node's worker restarted while it ran."


def labs_reconcile_node(*, node_name: str) -> None:
    """After this node's worker restarted, nothing of it runs: checks and
    setups it was running are lost (errors; a student starts a failed lab
    again), queued checks and instances are queued again."""
    here = {"instance__container__node__name": node_name}
    for run in CheckRun.objects.filter(state=R.RUNNING, **here).select_related("instance"):
        _finish(run, expect=R.RUNNING, state=R.ERROR, message=f"The check could not finish: {RESTARTED}")
    for run_id in CheckRun.objects.filter(state=R.QUEUED, **here).values_list("id", flat=True):
        current_app.send_task("dashboard.labs.tasks.lab_check_run", args=[run_id], queue=node_queue(node_name))
    for instance in LabInstance.objects.filter(status=I.SETTING_UP, container__node__name=node_name):
        _fail(instance, f"The setup could not finish: {RESTARTED}", expect=I.SETTING_UP)
    for instance_id in LabInstance.objects.filter(status=I.CREATING, container__node__name=node_name).values_list(
        "id", flat=True
    ):
        current_app.send_task("dashboard.labs.tasks.lab_instance_prepare", args=[instance_id], queue=node_queue(node_name))
    running = Lab.objects.filter(self_test_container__node__name=node_name, self_test__status="running")
    for lab in running.select_related("self_test_container"):
        lab.self_test = {"status": "error", "detail": f"The self-test could not finish: {RESTARTED}", "steps": []}
        lab.save(update_fields=["self_test"])
        if not lab.self_test_container.is_gone:
            container_delete(container=lab.self_test_container)
    for lab_id in Lab.objects.filter(self_test_container__node__name=node_name, self_test__status="queued").values_list(
        "id", flat=True
    ):
        current_app.send_task("dashboard.labs.tasks.lab_self_test", args=[lab_id], queue=node_queue(node_name))
