"""A class's limits on the real stack (real worker, real runtime, cgroup
freezer, the real sample history): an instance idle past the idle limit (no
check, no shell, cpu low) is suspended (the runtime's pause: same processes,
files kept) and resumed when the student comes back;
one past its time limit is stopped with its files kept, and a start brings
them back; Extend moves the limit (the student a set number of times);
instances are deleted only a retention period after the class ends.
Time is passed to the node half's pass, not waited for."""

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from runtime import Runtime

from class_helpers import make_class
from dashboard.classes.limits import RETENTION
from dashboard.classes.models import Enrolment
from dashboard.classes.node import classes_limits_enforce_on_node
from dashboard.containers.models import Container
from dashboard.containers.services import container_delete
from dashboard.labs.models import CheckRun, LabInstance
from dashboard.labs.services import lab_import, lab_instance_start
from dashboard.monitoring.history import samples_add

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LAB = b"""\
title: Limits lab
image: busybox
limits: {memory: 64m, pids: 64}
steps:
  - {id: one, title: One, text: x, check: {run: 'true'}}
"""


@pytest.fixture
def klass(teacher, busybox_image, worker):
    lab = lab_import(owner=teacher, upload=SimpleUploadedFile("lab.yaml", LAB))
    # Until the labs let a class's students start its lab (see the report), the lab is handed to all.
    lab.assigned_to_all = True
    lab.save()
    return make_class(teacher=teacher, lab=lab)


@pytest.fixture
def instance(klass, owner, wait_until):
    """`owner`'s ready instance in `klass`, a file written in it; its container deleted at the end."""
    Enrolment.objects.create(klass=klass, student=owner)
    started = lab_instance_start(lab=klass.lab, student=owner)
    wait_until(lambda: LabInstance.objects.get(pk=started.pk).status == "ready")
    instance = LabInstance.objects.select_related("container").get(pk=started.pk)
    assert runtime_run(instance, b"echo kept > /root/work").exit_code == 0
    yield instance
    container = Container.objects.get(pk=instance.container_id)
    if not container.is_gone:
        container_delete(container=container)
    wait_until(lambda: Container.objects.get(pk=container.pk).status == "deleted")


def runtime_run(instance, script: bytes):
    return Runtime(root=settings.TERRARIUM_ROOT).check(instance.container.runtime_name, script, timeout=10)


def runtime_state(instance):
    return Runtime(root=settings.TERRARIUM_ROOT).get(instance.container.runtime_name)


def enforce(at):
    return classes_limits_enforce_on_node(node_name=settings.NODE_NAME, now=at)


def status(instance) -> str:
    return Container.objects.get(pk=instance.container_id).status


def test_an_idle_instance_is_suspended_and_resumed_when_the_student_returns(client_for, owner, klass, instance,
                                                                            wait_until):
    klass.idle_limit_seconds = 600
    klass.save()
    pid = runtime_state(instance).pid
    assert enforce(timezone.now() + timedelta(seconds=599)) == {}
    assert enforce(timezone.now() + timedelta(seconds=601)) == {instance.pk: "suspended"}
    assert status(instance) == "paused" and runtime_state(instance).status == "paused"
    page = client_for(owner).get(reverse("classes:student", args=[klass.pk])).content.decode()
    assert "suspended while idle" in page and ">Resume lab</button>" in page
    client_for(owner).post(reverse("classes:resume", args=[klass.pk]))
    wait_until(lambda: status(instance) == "running")
    state = runtime_state(instance)
    assert state.status == "running" and state.pid == pid
    assert runtime_run(instance, b"cat /root/work").output == b"kept\n"


def test_a_check_counts_as_activity(klass, instance):
    klass.idle_limit_seconds = 600
    klass.save()
    CheckRun.objects.create(instance=instance, step_id="one", state="passed", exit_code=0,
                            requested_at=timezone.now() + timedelta(seconds=300))
    assert enforce(timezone.now() + timedelta(seconds=601)) == {}
    assert status(instance) == "running"


@pytest.fixture
def cpu_samples(instance):
    """add(at, percent): a 1-second sample of the instance's container in the real history; gone at the end."""
    r = redis.Redis.from_url(settings.REDIS_URL)

    def add(at, percent):
        pipe = r.pipeline()
        samples_add(pipe, [(instance.container_id, {"t": at.timestamp(), "cpu_percent": percent})], [])
        pipe.execute()

    yield add
    r.delete(f"terrarium:stats:c:{instance.container_id}:s")
    r.close()


def test_cpu_above_the_threshold_within_the_idle_limit_counts_as_activity(klass, instance, cpu_samples):
    klass.idle_limit_seconds = 600
    klass.save()
    later = timezone.now() + timedelta(seconds=601)
    cpu_samples(later - timedelta(seconds=100), 90.0)
    assert enforce(later) == {}
    assert status(instance) == "running"


def test_a_quiet_or_older_cpu_is_no_activity(klass, instance, cpu_samples):
    klass.idle_limit_seconds = 600
    klass.save()
    later = timezone.now() + timedelta(seconds=601)
    cpu_samples(later - timedelta(seconds=700), 90.0)
    cpu_samples(later - timedelta(seconds=100), 1.0)
    assert enforce(later) == {instance.pk: "suspended"}


def test_the_time_limit_stops_the_instance_keeping_its_files_and_extend_moves_it(client_for, owner, teacher, klass,
                                                                               instance, wait_until):
    klass.time_limit_seconds, klass.student_extensions = 3600, 1
    klass.save()
    page = client_for(owner).get(reverse("classes:student", args=[klass.pk])).content.decode()
    assert "Your lab stops at" in page and ">Extend</button>" in page
    over = instance.ready_at + timedelta(seconds=3601)
    assert enforce(over) == {instance.pk: "stopped"}
    wait_until(lambda: status(instance) == "exited")

    client_for(owner).post(reverse("classes:student-extend", args=[klass.pk]))
    client_for(owner).post(reverse("classes:student-extend", args=[klass.pk]))
    assert Enrolment.objects.get(klass=klass, student=owner).extra_seconds == 15 * 60
    client_for(teacher).post(reverse("classes:extend", args=[klass.pk]), {"student": owner.pk})
    assert Enrolment.objects.get(klass=klass, student=owner).extra_seconds == 30 * 60

    lab_instance_start(lab=klass.lab, student=owner)
    wait_until(lambda: status(instance) == "running")
    assert runtime_run(instance, b"cat /root/work").output == b"kept\n"
    assert enforce(over) == {}
    assert enforce(instance.ready_at + timedelta(seconds=3600 + 30 * 60 + 1)) == {instance.pk: "stopped"}
    wait_until(lambda: status(instance) == "exited")


def test_instances_are_kept_until_the_retention_after_the_class_ends_then_deleted(klass, instance, teacher, owner,
                                                                                  wait_until):
    klass.ends_at = timezone.now() - timedelta(days=1)
    klass.save()
    ended = klass.ends_at
    assert enforce(ended + RETENTION - timedelta(seconds=1)) == {}
    other = make_class(teacher=teacher, lab=klass.lab, name="Still on", ends_at=ended + timedelta(days=30))
    Enrolment.objects.create(klass=other, student=owner)
    assert enforce(ended + RETENTION + timedelta(seconds=1)) == {}
    other.delete()
    assert enforce(ended + RETENTION + timedelta(seconds=1)) == {instance.pk: "deleted"}
    wait_until(lambda: status(instance) == "deleted")
