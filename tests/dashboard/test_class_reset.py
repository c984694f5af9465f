"""Reset through the real stack: the student's "Reset lab" and the teacher's
reset (one student or all) make the instance anew from the lab by the labs'
own start (real worker, real runtime): a new container, set up again, the
files the student made gone with the old one (deleted), the check results
kept, the lab's values the same. A confirmation comes first; assistants may
reset their class's students, nobody else."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from runtime import Runtime

from class_helpers import make_class
from dashboard.classes.models import Enrolment
from dashboard.containers.models import Container
from dashboard.containers.services import container_delete
from dashboard.labs.models import CheckRun, LabInstance
from dashboard.labs.services import lab_import, lab_instance_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LAB = b"""\
title: Reset lab
image: busybox
limits: {memory: 64m, pids: 64}
params:
  - {name: TOKEN, type: hex, bytes: 8}
setup: echo {{TOKEN}} > /root/token
steps:
  - {id: token, title: Token, text: x, check: {run: 'test "$(cat /root/token)" = "{{TOKEN}}"'}}
"""


@pytest.fixture
def klass(teacher, assistant, busybox_image, worker):
    lab = lab_import(owner=teacher, upload=SimpleUploadedFile("lab.yaml", LAB))
    # Until the labs let a class's students start its lab (see the report), the lab is handed to all.
    lab.assigned_to_all = True
    lab.save()
    klass = make_class(teacher=teacher, lab=lab)
    klass.assistants.add(assistant)
    return klass


@pytest.fixture
def started(klass, wait_until):
    """start(student) -> the student's ready instance in `klass`; every container of it deleted at the end."""
    students = []

    def start(student):
        Enrolment.objects.create(klass=klass, student=student)
        students.append(student)
        instance = lab_instance_start(lab=klass.lab, student=student)
        return ready(instance, wait_until)

    yield start
    for container in Container.objects.filter(owner__in=students):
        if not container.is_gone:
            container_delete(container=container)
        wait_until(lambda: Container.objects.get(pk=container.pk).status == "deleted")


def ready(instance, wait_until, *, not_container=None) -> LabInstance:
    wait_until(lambda: (i := LabInstance.objects.get(pk=instance.pk)).status == "ready"
               and i.container_id != not_container)
    return LabInstance.objects.select_related("container").get(pk=instance.pk)


def run(instance, script: bytes):
    return Runtime(root=settings.TERRARIUM_ROOT).check(instance.container.runtime_name, script, timeout=10)


def test_the_students_reset_makes_the_lab_anew_keeping_results_and_values(client_for, owner, klass, started,
                                                                            wait_until):
    instance = started(owner)
    token = run(instance, b"cat /root/token").output
    assert run(instance, b"touch /root/work && test -e /root/work").exit_code == 0
    CheckRun.objects.create(instance=instance, step_id="token", state="passed", exit_code=0)
    client = client_for(owner)
    confirm = client.get(reverse("classes:student-reset", args=[klass.pk])).content.decode()
    assert "discarded" in confirm and ">Reset lab</button>" in confirm
    old = instance.container_id
    response = client.post(reverse("classes:student-reset", args=[klass.pk]))
    assert response.url == reverse("labs:detail", args=[klass.lab_id])
    new = ready(instance, wait_until, not_container=old)
    wait_until(lambda: Container.objects.get(pk=old).status == "deleted")
    assert new.pk == instance.pk and new.container_id != old
    assert run(new, b"test -e /root/work").exit_code == 1
    assert run(new, b"cat /root/token").output == token
    assert list(CheckRun.objects.filter(instance=new).values_list("state", flat=True)) == ["passed"]


def test_the_teacher_resets_one_student_or_all(client_for, teacher, owner, other_student, klass, started,
                                               wait_until):
    mine, theirs = started(owner), started(other_student)
    client = client_for(teacher)
    url = reverse("classes:reset", args=[klass.pk])
    assert "owner&#x27;s lab" in client.get(f"{url}?student={owner.pk}").content.decode()
    client.post(url, {"student": owner.pk})
    mine_after = ready(mine, wait_until, not_container=mine.container_id)
    assert LabInstance.objects.get(pk=theirs.pk).container_id == theirs.container_id
    assert "every student" in client.get(url).content.decode()
    client.post(url)
    ready(mine_after, wait_until, not_container=mine_after.container_id)
    ready(theirs, wait_until, not_container=theirs.container_id)


def test_an_assistant_resets_in_their_class_and_nobody_else_does(client_for, assistant, second_teacher, owner,
                                                                 other_student, klass, started, wait_until):
    instance = started(owner)
    url = reverse("classes:reset", args=[klass.pk])
    for outsider in (second_teacher, other_student):
        assert client_for(outsider).post(url, {"student": owner.pk}).status_code == 404
    assert LabInstance.objects.get(pk=instance.pk).container_id == instance.container_id
    client_for(assistant).post(url, {"student": owner.pk})
    ready(instance, wait_until, not_container=instance.container_id)
