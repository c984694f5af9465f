"""A student who joined a class sees and starts its lab; one who did not gets a 404."""

import pytest
from django.urls import reverse

from class_helpers import make_class, make_lab
from dashboard.labs.models import LabInstance

pytestmark = pytest.mark.django_db


def test_a_joined_student_sees_and_starts_the_classs_lab_and_others_do_not(client_for, teacher, owner, other_student, node):
    klass = make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node))
    lab_page = reverse("labs:detail", args=[klass.lab_id])
    assert client_for(owner).get(lab_page).status_code == 404
    client = client_for(owner)
    assert client.post("/join/", {"code": klass.join_code}).url == lab_page
    page = client.get(lab_page)
    assert page.status_code == 200 and "Start lab" in page.content.decode()
    client.post(reverse("labs:start", args=[klass.lab_id]))
    assert LabInstance.objects.filter(lab=klass.lab, student=owner).exists()
    assert client_for(other_student).get(lab_page).status_code == 404
