"""The student's page warns CLASS_WARNING_SECONDS before the time limit stops
their lab (saying the files are kept, offering Extend) and before the idle
limit suspends it (saying what keeps it going); not earlier."""

import pytest
from django.urls import reverse

from class_helpers import enrol_with_instance, make_class, make_lab

pytestmark = pytest.mark.django_db


@pytest.fixture
def klass(teacher, node):
    return make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node), student_extensions=1)


def warnings(client, klass):
    page = client.get(reverse("classes:student", args=[klass.pk])).content.decode()
    time_warning = page.split("data-time-warning", 1)[1].split("</div>", 1)[0] if "data-time-warning" in page else None
    idle_warning = page.split("data-idle-warning", 1)[1].split("</div>", 1)[0] if "data-idle-warning" in page else None
    return time_warning, idle_warning


def test_the_time_warning_shows_the_warning_time_before_the_stop_with_extend(client_for, owner, klass, settings):
    settings.CLASS_WARNING_SECONDS = 300
    enrol_with_instance(klass=klass, student=owner)
    klass.time_limit_seconds = 3600
    klass.save()
    time_warning, _ = warnings(client_for(owner), klass)
    assert time_warning.startswith(" hidden")
    klass.time_limit_seconds = 240
    klass.save()
    time_warning, _ = warnings(client_for(owner), klass)
    assert not time_warning.startswith(" hidden")
    assert "Your lab stops in" in time_warning and "your files are kept" in time_warning
    assert ">Extend</button>" in time_warning and "1 left" in time_warning


def test_without_extensions_left_the_warning_says_to_ask_the_teacher(client_for, owner, klass, settings):
    settings.CLASS_WARNING_SECONDS = 300
    enrol_with_instance(klass=klass, student=owner)
    klass.time_limit_seconds, klass.student_extensions = 240, 0
    klass.save()
    time_warning, _ = warnings(client_for(owner), klass)
    assert "Ask your teacher for more time." in time_warning and "Extend" not in time_warning


def test_the_idle_warning_shows_the_warning_time_before_the_suspension(client_for, owner, klass, settings):
    enrol_with_instance(klass=klass, student=owner)
    klass.idle_limit_seconds = 600
    klass.save()
    settings.CLASS_WARNING_SECONDS = 300
    _, idle_warning = warnings(client_for(owner), klass)
    assert idle_warning.split(">", 1)[0].endswith(" hidden")
    settings.CLASS_WARNING_SECONDS = 700
    _, idle_warning = warnings(client_for(owner), klass)
    assert not idle_warning.split(">", 1)[0].endswith(" hidden") and "data-suspend-at=" in idle_warning
    assert "Your lab is suspended in" in idle_warning and "type in its terminal or run a check" in idle_warning


def test_a_stopped_lab_shows_no_warning(client_for, owner, klass, settings):
    settings.CLASS_WARNING_SECONDS = 300
    enrol_with_instance(klass=klass, student=owner, container_status="exited")
    klass.time_limit_seconds, klass.idle_limit_seconds = 240, 60
    klass.save()
    time_warning, idle_warning = warnings(client_for(owner), klass)
    assert time_warning.startswith(" hidden") and idle_warning.split(">", 1)[0].endswith(" hidden")


def test_the_limits_json_gives_the_page_its_deadlines(client_for, owner, other_student, klass, settings):
    settings.CLASS_WARNING_SECONDS = 300
    enrol_with_instance(klass=klass, student=owner)
    klass.time_limit_seconds, klass.idle_limit_seconds = 240, 600
    klass.save()
    limits = client_for(owner).get(reverse("classes:limits", args=[klass.pk])).json()
    assert limits["time_warning"] is True and limits["idle_warning"] is False and limits["suspended"] is False
    assert limits["stop_at"] and limits["suspend_at"]
    assert client_for(other_student).get(reverse("classes:limits", args=[klass.pk])).status_code == 404
