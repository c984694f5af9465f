"""Teachers' class pages: "New class" makes a class of one of the teacher's
labs and shows its join code; another teacher's class is a 404, and an
assistant sees and helps in their classes only, without changing them."""

import pytest
from django.urls import reverse

from class_helpers import make_class, make_lab
from dashboard.classes.models import Class

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(teacher, node):
    return make_lab(teacher=teacher, node=node)


@pytest.fixture
def klass(teacher, lab, assistant):
    klass = make_class(teacher=teacher, lab=lab)
    klass.assistants.add(assistant)
    return klass


def test_a_teacher_creates_a_class_of_their_lab_and_sees_its_join_code(client_for, teacher, lab, second_teacher):
    other_lab = make_lab(teacher=second_teacher, node=lab.image.node)
    client = client_for(teacher)
    assert ">New class</a>" in client.get("/classes/").content.decode()
    form = client.get(reverse("classes:new")).content.decode()
    assert '<label for="id_name">Name:</label>' in form and '<label for="id_lab">Lab:</label>' in form
    assert f'<option value="{lab.pk}">Files lab</option>' in form and f'value="{other_lab.pk}"' not in form
    assert ">Create</button>" in form
    response = client.post(reverse("classes:new"), {"name": "Linux 101", "lab": lab.pk})
    klass = Class.objects.get()
    assert response.url == reverse("classes:detail", args=[klass.pk])
    assert klass.owner == teacher and klass.lab == lab and len(klass.join_code) == 8
    page = client.get(response.url).content.decode()
    assert f"<code data-join-code>{klass.join_code}</code>" in page and ">Export CSV</a>" in page
    assert f'href="{reverse("classes:detail", args=[klass.pk])}">Linux 101</a>' in client.get("/classes/").content.decode()


def test_a_class_of_ansecond_teachers_lab_is_refused(client_for, teacher, second_teacher, node):
    other_lab = make_lab(teacher=second_teacher, node=node)
    response = client_for(teacher).post(reverse("classes:new"), {"name": "Stolen", "lab": other_lab.pk})
    assert response.status_code == 400 and not Class.objects.exists()


def test_a_student_cannot_create_classes(client_for, owner, lab):
    client = client_for(owner)
    assert "New class" not in client.get("/classes/").content.decode()
    assert client.post(reverse("classes:new"), {"name": "Mine", "lab": lab.pk}).status_code == 404
    assert not Class.objects.exists()


@pytest.mark.parametrize("path", ["detail", "grid", "export-csv", "export-json", "cell", "roster", "code"])
def test_ansecond_teachers_class_is_a_404(client_for, second_teacher, other_student, klass, path):
    urls = {
        "detail": ("get", reverse("classes:detail", args=[klass.pk])),
        "grid": ("get", reverse("classes:grid", args=[klass.pk])),
        "export-csv": ("get", f"/classes/{klass.pk}/export.csv"),
        "export-json": ("get", f"/classes/{klass.pk}/export.json"),
        "cell": ("get", reverse("classes:cell", args=[klass.pk, other_student.pk, "make"])),
        "roster": ("post", reverse("classes:roster", args=[klass.pk])),
        "code": ("post", reverse("classes:code", args=[klass.pk])),
    }
    method, url = urls[path]
    code = klass.join_code
    for user in (second_teacher, other_student):
        assert getattr(client_for(user), method)(url).status_code == 404
    klass.refresh_from_db()
    assert klass.join_code == code


def test_an_assistant_sees_their_class_only(client_for, teacher, assistant, klass, lab):
    other = make_class(teacher=teacher, lab=lab, name="Other class")
    client = client_for(assistant)
    listing = client.get("/classes/").content.decode()
    assert "Linux 101" in listing and "Other class" not in listing and "New class" not in listing
    assert client.get(reverse("classes:detail", args=[klass.pk])).status_code == 200
    assert client.get(f"/classes/{klass.pk}/export.csv").status_code == 200
    assert client.get(reverse("classes:detail", args=[other.pk])).status_code == 404
    assert client.get(f"/classes/{other.pk}/export.csv").status_code == 404


def test_an_assistant_helps_but_does_not_change_the_class(client_for, assistant, klass):
    client = client_for(assistant)
    page = client.get(reverse("classes:detail", args=[klass.pk])).content.decode()
    assert "Import roster" not in page and "Add assistant" not in page
    code = klass.join_code
    assert client.post(reverse("classes:code", args=[klass.pk])).status_code == 403
    assert client.post(reverse("classes:assistants", args=[klass.pk]), {"username": "owner"}).status_code == 403
    klass.refresh_from_db()
    assert klass.join_code == code and list(klass.assistants.values_list("username", flat=True)) == ["assistant"]


def test_the_teacher_adds_and_removes_an_assistant(client_for, teacher, owner, klass):
    client = client_for(teacher)
    client.post(reverse("classes:assistants", args=[klass.pk]), {"username": "owner"})
    assert client_for(owner).get(reverse("classes:detail", args=[klass.pk])).status_code == 200
    client.post(reverse("classes:assistants", args=[klass.pk]), {"remove": owner.pk})
    assert client_for(owner).get(reverse("classes:detail", args=[klass.pk])).status_code == 404


def test_a_new_join_code_replaces_the_old_one(client_for, teacher, owner, klass):
    old = klass.join_code
    client_for(teacher).post(reverse("classes:code", args=[klass.pk]))
    klass.refresh_from_db()
    assert klass.join_code != old
    assert client_for(owner).post("/join/", {"code": old}).status_code == 400
    assert client_for(owner).post("/join/", {"code": klass.join_code}).status_code == 302
