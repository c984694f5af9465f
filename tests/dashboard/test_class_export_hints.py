"""The export counts the hints each student was shown per step (a hint
shows once it unlocks: after failed checks or after some time) and gives
the lab's total points: a hint is counted once, when the student's own page
first shows it, not when their teacher looks."""

import csv
import io

import pytest
from django.urls import reverse

from class_helpers import check, enrol_with_instance, make_class, make_lab
from dashboard.classes.models import Enrolment

pytestmark = pytest.mark.django_db

LAB = b"""\
title: Hints lab
image: busybox
steps:
  - id: make
    title: Make a file
    text: x
    check: {run: 'test -f /tmp/a', points: 2}
    hints:
      - {text: Try touch., after_failures: 1}
      - {text: touch /tmp/a, after_failures: 2}
      - {text: Much later., after_seconds: 86400}
  - {id: fill, title: Fill it, text: y, check: {run: 'test -s /tmp/a', points: 3}}
"""


@pytest.fixture
def klass(teacher, node):
    return make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node, source=LAB))


def export(client, klass):
    return list(csv.DictReader(io.StringIO(client.get(f"/classes/{klass.pk}/export.csv").content.decode())))


def test_a_hint_the_students_page_showed_is_counted_once(client_for, owner, other_student, teacher, klass):
    mine = enrol_with_instance(klass=klass, student=owner)
    Enrolment.objects.create(klass=klass, student=other_student)
    check(mine, "make", "failed", after_seconds=1)
    check(mine, "make", "failed", after_seconds=2)
    client_for(teacher).get(reverse("labs:instance", args=[mine.pk]))
    assert export(client_for(teacher), klass)[1]["hints"] == "0"

    client_for(owner).get(reverse("labs:detail", args=[klass.lab_id]))
    client_for(owner).get(reverse("labs:instance-state", args=[mine.pk]))
    other, row = export(client_for(teacher), klass)
    assert (row["username"], row["make hints"], row["fill hints"], row["hints"]) == ("owner", "2", "0", "2")
    assert (other["hints"], other["make hints"]) == ("0", "0")
    assert (row["points"], row["total points"]) == ("0", "5")
    data = client_for(teacher).get(f"/classes/{klass.pk}/export.json").json()
    record = next(s for s in data["students"] if s["username"] == "owner")
    assert record["steps"]["make"]["hints"] == 2 and record["hints"] == 2 and record["total_points"] == 5


def test_a_hint_still_locked_is_not_counted(client_for, owner, teacher, klass):
    mine = enrol_with_instance(klass=klass, student=owner)
    check(mine, "make", "failed", after_seconds=1)
    client_for(owner).get(reverse("labs:instance-state", args=[mine.pk]))
    assert export(client_for(teacher), klass)[0]["make hints"] == "1"
