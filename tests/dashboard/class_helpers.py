"""Plain helpers for the class tests (fixtures stay in each test module):
a lab made straight from a lab file, a class of it, a student's
instance in it and their check results as the labs' node half stores them."""

from datetime import timedelta

from dashboard.classes.models import Class, Enrolment
from dashboard.containers.models import Container
from dashboard.images.models import Image
from dashboard.labs.labfile import parse_lab
from dashboard.labs.models import CheckRun, Lab, LabInstance

LAB = b"""\
title: Files lab
image: busybox
steps:
  - {id: make, title: Make a file, text: x, check: {run: 'test -f /tmp/a', fail: No file yet., points: 2}}
  - {id: fill, title: Fill it, text: y, check: {run: 'test -s /tmp/a'}}
"""


def make_lab(*, teacher, node, source: bytes = LAB) -> Lab:
    image = Image.objects.filter(name="busybox").first() or Image.objects.create(
        name="busybox", owner=teacher, node=node, status="ready", visibility="shared")
    definition = parse_lab({"lab.yaml": source}).definition
    return Lab.objects.create(owner=teacher, title=definition["title"], image=image, definition=definition,
                              source=source)


def make_class(*, teacher, lab, **fields) -> Class:
    return Class.objects.create(name=fields.pop("name", "Linux 101"), lab=lab, owner=teacher, **fields)


def enrol_with_instance(*, klass, student, container_status="running"):
    """The student enrolled, with a ready instance whose container is in `container_status`."""
    Enrolment.objects.create(klass=klass, student=student)
    lab = klass.lab
    container = Container.objects.create(owner=student, image=lab.image, node=lab.image.node,
                                         name=f"lab-{student.username}", status=container_status)
    return LabInstance.objects.create(lab=lab, student=student, container=container, status="ready",
                                      ready_at=container.created_at)


def check(instance, step_id, state, *, message="", output="", after_seconds=0):
    return CheckRun.objects.create(instance=instance, step_id=step_id, state=state, message=message, output=output,
                                   exit_code={"passed": 0, "failed": 1, "error": 127}[state],
                                   requested_at=instance.ready_at + timedelta(seconds=after_seconds))
