"""Plain helpers for the class tests (fixtures stay in each test module):
a lab made straight from a lab file, and a class of it."""

from dashboard.classes.models import Class
from dashboard.images.models import Image
from dashboard.labs.labfile import parse_lab
from dashboard.labs.models import Lab

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
