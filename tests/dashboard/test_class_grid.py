"""The teacher's grid: a row per enrolled student, a cell per step with its
state (pending, passed with time and attempts, failed with the count and the
last message, error), the instance's state and idle time at the row's end,
per step the share passed and the median time; a cell's last check output
on demand; the raised hand a student sets."""

import re

import pytest
from django.template import RequestContext, Template
from django.urls import reverse

from class_helpers import check, enrol_with_instance, make_class, make_lab
from dashboard.classes.models import Enrolment

pytestmark = pytest.mark.django_db


@pytest.fixture
def klass(teacher, node):
    return make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node))


def cell(page: str, student, step: str) -> str:
    row = re.search(rf'<tr data-student="{student.pk}".*?</tr>', page, re.S).group(0)
    return re.search(rf'<td data-step="{step}" data-state="(\w+)">(.*?)</td>', row, re.S).groups()


def test_each_cell_shows_the_steps_state_for_its_student(client_for, teacher, owner, other_student, klass):
    mine = enrol_with_instance(klass=klass, student=owner)
    theirs = enrol_with_instance(klass=klass, student=other_student, container_status="paused")
    check(mine, "make", "failed", message="No file yet.", after_seconds=10)
    check(mine, "make", "passed", after_seconds=95)
    check(mine, "make", "failed", message="later failures do not undo a pass", after_seconds=99)
    check(theirs, "make", "failed", message="No file yet.", after_seconds=5)
    check(theirs, "make", "failed", message="Still no file.", after_seconds=6)
    check(theirs, "fill", "error", message="exit 127", after_seconds=7)
    page = client_for(teacher).get(reverse("classes:detail", args=[klass.pk])).content.decode()
    assert "<table" in page
    for instance in (mine, theirs):
        assert f'href="{reverse("labs:instance", args=[instance.pk])}" data-username>{instance.student.username}</a>' in page
    state, text = cell(page, owner, "make")
    assert state == "passed" and "1 min 35 s" in text and "3×" in text
    assert cell(page, owner, "fill")[0] == "pending"
    state, text = cell(page, other_student, "make")
    assert state == "failed" and "2×" in text and "Still no file." in text
    assert cell(page, other_student, "fill")[0] == "error"
    assert 'data-instance-state="running"' in page and 'data-instance-state="suspended"' in page
    idle = client_for(teacher).get(reverse("classes:grid", args=[klass.pk])).json()["rows"][0]["idle_seconds"]
    assert isinstance(idle, int) and idle >= 0


def test_a_student_without_an_instance_shows_not_started(client_for, teacher, owner, klass):
    Enrolment.objects.create(klass=klass, student=owner)
    page = client_for(teacher).get(reverse("classes:detail", args=[klass.pk])).content.decode()
    assert cell(page, owner, "make")[0] == "pending" and 'data-instance-state="not started"' in page
    assert 'data-idle=""' in page and ">owner</span>" in page


def test_column_headers_give_the_share_passed_and_the_median_time(client_for, teacher, owner, other_student,
                                                                  django_user_model, klass):
    third = django_user_model.objects.create_user(username="third", password="pw-third")
    for student, seconds in ((owner, 60), (other_student, 180)):
        check(enrol_with_instance(klass=klass, student=student), "make", "passed", after_seconds=seconds)
    enrol_with_instance(klass=klass, student=third)
    grid = client_for(teacher).get(reverse("classes:grid", args=[klass.pk])).json()
    make, fill = grid["columns"]
    assert (make["passed"], make["share"], make["median_seconds"]) == (2, 67, 120)
    assert (fill["passed"], fill["share"], fill["median_seconds"]) == (0, 0, None)
    page = client_for(teacher).get(reverse("classes:detail", args=[klass.pk])).content.decode()
    assert re.search(r'data-column="make".*?<span data-share>67 %</span> · <span data-median>2 min 0 s</span>', page, re.S)


def test_a_cell_gives_its_last_check_output(client_for, teacher, owner, klass):
    instance = enrol_with_instance(klass=klass, student=owner)
    check(instance, "make", "failed", message="No file yet.", output="first", after_seconds=1)
    check(instance, "make", "failed", message="No file yet.", output="FAIL: /tmp/a missing", after_seconds=2)
    url = reverse("classes:cell", args=[klass.pk, owner.pk, "make"])
    run = client_for(teacher).get(url).json()
    assert run["state"] == "failed" and run["output"] == "FAIL: /tmp/a missing" and run["exit_code"] == 1
    assert client_for(teacher).get(reverse("classes:cell", args=[klass.pk, owner.pk, "fill"])).status_code == 404


def test_a_cell_of_a_student_outside_the_class_is_a_404(client_for, teacher, owner, klass):
    instance = enrol_with_instance(klass=klass, student=owner)
    check(instance, "make", "failed", output="secret")
    Enrolment.objects.filter(klass=klass, student=owner).delete()
    assert client_for(teacher).get(reverse("classes:cell", args=[klass.pk, owner.pk, "make"])).status_code == 404


def test_a_student_raises_and_lowers_their_hand_for_the_teacher(client_for, teacher, owner, other_student, klass):
    Enrolment.objects.create(klass=klass, student=owner)
    client = client_for(owner)
    page = client.get(reverse("classes:student", args=[klass.pk])).content.decode()
    assert ">Raise hand</button>" in page
    client.post(reverse("classes:hand", args=[klass.pk]), {"raised": "1"})
    grid = client_for(teacher).get(reverse("classes:grid", args=[klass.pk])).json()
    assert grid["rows"][0]["hand_raised"] is True
    assert ">Lower hand</button>" in client.get(reverse("classes:student", args=[klass.pk])).content.decode()
    client.post(reverse("classes:hand", args=[klass.pk]), {"raised": "0"})
    assert client_for(teacher).get(reverse("classes:grid", args=[klass.pk])).json()["rows"][0]["hand_raised"] is False
    assert client_for(other_student).post(reverse("classes:hand", args=[klass.pk]), {"raised": "1"}).status_code == 404


def test_the_lab_pages_include_gives_an_enrolled_student_their_controls_and_others_nothing(rf, owner, other_student,
                                                                                            klass):
    Enrolment.objects.create(klass=klass, student=owner)
    template = Template("{% load classes %}{% class_controls lab %}")

    def render(user):
        request = rf.get(reverse("labs:detail", args=[klass.lab_id]))
        request.user = user
        return template.render(RequestContext(request, {"lab": klass.lab}))

    mine = render(owner)
    assert ">Raise hand</button>" in mine and ">Reset lab</a>" in mine
    assert f'name="next" value="{reverse("labs:detail", args=[klass.lab_id])}"' in mine
    assert render(other_student).strip() == ""
