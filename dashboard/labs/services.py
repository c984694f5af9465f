"""Labs, the web side: import a lab file, hand it to students, start a
student's instance (a container through the container services, so it is
counted in the student's quota) and ask for a check. The node side
(`dashboard.labs.node`) sets instances up and runs checks."""

import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from dashboard.accounts.roles import is_teacher
from dashboard.containers.models import Container
from dashboard.containers.services import container_create, container_delete, container_start
from dashboard.images.selectors import images_launchable_by
from dashboard.labs import tasks
from dashboard.labs.labfile import LabError, LabInvalid, parse_lab
from dashboard.labs.models import CheckRun, Lab, LabInstance
from dashboard.labs.selectors import lab_managed_by
from dashboard.labs.sources import MAX_TOTAL_BYTES, LabSourceError, files_from_upload
from dashboard.networks.services import network_for_lab

# The instance's main process: it waits for nothing and leaves at a stop's SIGTERM.
KEEP_ALIVE = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"]
I = LabInstance.Status


def _read_upload(upload) -> bytes:
    data = upload.read(MAX_TOTAL_BYTES + 1)
    if len(data) > MAX_TOTAL_BYTES:
        raise LabInvalid([LabError(None, f"A lab file is at most {MAX_TOTAL_BYTES // (1024 * 1024)} MiB.")])
    return data


@transaction.atomic
def lab_import(*, owner, upload) -> Lab:
    """A teacher's lab file (lab.yaml or a zip; a file object) -> a Lab, or
    LabInvalid with every error. When steps have solve scripts, a self-test
    is queued (dashboard.labs.selftest) in a throwaway container of the teacher's."""
    if not is_teacher(owner):
        raise PermissionDenied("Only teachers may import labs.")
    data = _read_upload(upload)
    try:
        parsed = parse_lab(files_from_upload(data))
    except LabSourceError as exc:
        raise LabInvalid([LabError(None, str(exc))]) from None
    definition = parsed.definition
    image = images_launchable_by(user=owner).filter(name=definition["image"]).first()
    if image is None:
        raise LabInvalid([LabError(parsed.lines.get("image"), f"image: no ready image named {definition['image']!r}.")])
    lab = Lab.objects.create(owner=owner, title=definition["title"], image=image, definition=definition, source=data,
                             network=definition["network"], egress=definition["egress"])
    if any(step["solve"] for step in definition["steps"]):
        _self_test(lab)
    return lab


def _self_test(lab: Lab) -> None:
    try:
        container = _launch(lab=lab, student=lab.owner, purpose="selftest")
    except ValidationError as exc:
        lab.self_test = {"status": "error", "detail": f"The self-test could not start: {' '.join(exc.messages)}",
                         "steps": []}
        lab.save(update_fields=["self_test"])
        return
    lab.self_test, lab.self_test_container = {"status": "queued"}, container
    lab.save(update_fields=["self_test", "self_test_container"])
    queue = container.node.queue
    transaction.on_commit(lambda: tasks.lab_self_test.apply_async(args=[lab.pk], queue=queue))


def lab_assign_all(*, lab: Lab, teacher) -> Lab:
    """Every student may start the lab (until classes exist)."""
    if not lab_managed_by(lab=lab, user=teacher):
        raise PermissionDenied("Only the lab's teachers may assign it.")
    Lab.objects.filter(pk=lab.pk).update(assigned_to_all=True)
    lab.assigned_to_all = True
    return lab


def lab_share(*, lab: Lab, teacher, shared: bool) -> Lab:
    """Let other teachers see the lab, its students' instances and results (or stop)."""
    if lab.owner_id != teacher.pk and not teacher.is_superuser:
        raise PermissionDenied("Only the lab's owner may share it.")
    Lab.objects.filter(pk=lab.pk).update(shared_with_teachers=shared)
    lab.shared_with_teachers = shared
    return lab


def _launch(*, lab: Lab, student, purpose: str = "") -> Container:
    limits = lab.definition["limits"]
    return container_create(
        owner=student,
        image=lab.image,
        name="-".join(filter(None, ["lab", str(lab.pk), purpose, uuid.uuid4().hex[:6]])),
        command=KEEP_ALIVE,
        memory_bytes=limits.get("memory_bytes"),
        cpus=limits.get("cpus"),
        pids_limit=limits.get("pids_limit"),
        disk_bytes=limits.get("disk_bytes"),
        userns="auto",
        network=network_for_lab(lab=lab, student=student),
    )


@transaction.atomic
def lab_instance_start(*, lab: Lab, student) -> LabInstance:
    """The student's instance of the lab, started: made (container, then setup
    on its node) the first time or after a failure, started again if stopped."""
    if not (lab.assigned_to_all or lab_managed_by(lab=lab, user=student)
            or lab.classes.filter(enrolments__student=student).exists()):
        raise PermissionDenied("This lab is not assigned to you.")
    instance, created = LabInstance.objects.select_for_update().get_or_create(lab=lab, student=student)
    if not created and not instance.needs_new_container:
        if instance.container.can("start"):
            container_start(container=instance.container)
        return instance
    if not created and instance.container is not None and not instance.container.is_gone:
        container_delete(container=instance.container)
    instance.container = _launch(lab=lab, student=student)
    instance.status, instance.setup_output, instance.ready_at = I.CREATING, "", None
    instance.save(update_fields=["container", "status", "setup_output", "ready_at"])
    queue = instance.container.node.queue
    transaction.on_commit(lambda: tasks.lab_instance_prepare.apply_async(args=[instance.pk], queue=queue))
    return instance


@transaction.atomic
def lab_check_request(*, instance: LabInstance, step_id: str, user) -> CheckRun:
    """Queue a run of the step's check on the instance's node; one at a time per step."""
    if instance.student_id != user.pk:
        raise PermissionDenied("Only the lab's student runs its checks.")
    if instance.lab.step(step_id) is None:
        raise ValidationError(f"The lab has no step {step_id!r}.")
    if instance.status != I.READY or instance.container is None or not instance.container.can("shell"):
        raise ValidationError("The lab is not running: start it first.")
    LabInstance.objects.select_for_update().filter(pk=instance.pk).first()
    in_flight = CheckRun.objects.filter(instance=instance, step_id=step_id, state__in=[CheckRun.State.QUEUED,
                                                                                        CheckRun.State.RUNNING])
    run = in_flight.first()
    if run is not None:
        return run
    most = settings.LAB_MAX_CHECKS_PER_STEP
    if CheckRun.objects.filter(instance=instance, step_id=step_id).count() >= most:
        raise ValidationError(f"This step has been checked {most} times: ask your teacher.")
    run = CheckRun.objects.create(instance=instance, step_id=step_id, requested_by=user)
    queue = instance.container.node.queue
    transaction.on_commit(lambda: tasks.lab_check_run.apply_async(args=[run.pk], queue=queue))
    return run
