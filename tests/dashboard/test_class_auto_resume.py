"""The lab page's script tells the server the student is back (POST
mine/back/): only that student's own suspended instance is resumed; another
student's return resumes nothing of theirs, and a stranger to the class gets
a 404. (The resume itself, on the real stack: test_class_resume_browser.)"""

import pytest
from django.urls import reverse

from class_helpers import enrol_with_instance, make_class, make_lab
from dashboard.containers.models import Container

pytestmark = pytest.mark.django_db


@pytest.fixture
def klass(teacher, node):
    return make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node), idle_limit_seconds=600)


def back(client, klass):
    return client.post(reverse("classes:back", args=[klass.pk]))


def test_only_the_students_own_suspended_lab_is_resumed(client_for, owner, other_student, klass,
                                                        django_capture_on_commit_callbacks):
    mine = enrol_with_instance(klass=klass, student=owner, container_status="paused")
    enrol_with_instance(klass=klass, student=other_student)
    with django_capture_on_commit_callbacks() as queued:
        assert back(client_for(other_student), klass).json() == {"resuming": False}
    assert queued == []
    with django_capture_on_commit_callbacks() as queued:
        assert back(client_for(owner), klass).json() == {"resuming": True}
    assert queued
    assert Container.objects.get(pk=mine.container_id).status == "paused"


def test_a_running_lab_needs_no_resume(client_for, owner, klass):
    enrol_with_instance(klass=klass, student=owner)
    assert back(client_for(owner), klass).json() == {"resuming": False}


def test_a_student_outside_the_class_gets_a_404(client_for, owner, other_student, klass):
    enrol_with_instance(klass=klass, student=owner, container_status="paused")
    assert back(client_for(other_student), klass).status_code == 404
    assert client_for(owner).get(reverse("classes:back", args=[klass.pk])).status_code == 405
