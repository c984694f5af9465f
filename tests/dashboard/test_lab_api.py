"""The labs' JSON API with a personal token (or the session and its CSRF
token): import, list, assign, start, check, read results; another student's
instance is a 404 there too."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dashboard.images.models import Image
from dashboard.labs.models import ApiToken, CheckRun, Lab, LabInstance
from dashboard.labs.tokens import api_token_create

pytestmark = pytest.mark.django_db

LAB = b"""\
title: API lab
image: busybox
steps:
  - {id: one, title: One, text: x, check: {run: 'true'}}
"""


@pytest.fixture
def image(owner, node):
    return Image.objects.create(name="busybox", owner=owner, node=node, status="ready", store_name="busybox-1",
                                visibility="shared")


def api(user):
    """A client that sends `user`'s new token and no cookie."""
    _, token = api_token_create(user=user, name="script")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def import_lab(client, data=LAB):
    return client.post("/api/labs/", {"lab_file": SimpleUploadedFile("lab.yaml", data)})


def test_a_teacher_scripts_import_assign_and_list_with_a_token(teacher, owner, image):
    client = api(teacher)
    created = import_lab(client)
    assert created.status_code == 201, created.content
    lab_id = created.json()["id"]
    assert created.json()["steps"] == [{"id": "one", "title": "One", "points": 1}]
    assert client.post(f"/api/labs/{lab_id}/assign/").json()["assigned_to_all"] is True
    assert [lab["title"] for lab in api(owner).get("/api/labs/").json()["labs"]] == ["API lab"]


def test_an_invalid_lab_gets_every_error_with_its_line(teacher, image):
    response = import_lab(api(teacher), LAB.replace(b"image: busybox", b"image: busybox\nlimits: {memory: 1k}"))
    assert response.status_code == 400
    assert response.json()["errors"] == [{"line": 3, "message": "The memory limit must be at least 6m, not 1k."}]
    assert not Lab.objects.exists()


def test_no_token_a_bad_token_or_a_session_without_csrf_are_refused(teacher, image, client_for):
    assert import_lab(Client()).status_code == 401
    assert import_lab(Client(HTTP_AUTHORIZATION="Bearer trm_not-a-token")).status_code == 401
    session = Client(enforce_csrf_checks=True)
    session.force_login(teacher)
    assert session.get("/api/labs/").status_code == 200
    assert import_lab(session).status_code == 403
    assert not Lab.objects.exists()


def test_a_student_starts_their_instance_and_reads_their_results(teacher, owner, other_student, image):
    lab_id = import_lab(api(teacher)).json()["id"]
    api(teacher).post(f"/api/labs/{lab_id}/assign/")
    student = api(owner)
    started = student.post(f"/api/labs/{lab_id}/instances/")
    assert started.status_code == 202 and started.json()["status"] == "creating"
    instance = LabInstance.objects.get(student=owner)
    not_ready = student.post(f"/api/instances/{instance.pk}/steps/one/check/")
    assert not_ready.status_code == 409 and "not running" in not_ready.json()["error"]
    CheckRun.objects.create(instance=instance, step_id="one", state="error", exit_code=127, message="exit 127",
                            output="sh: x: not found", duration=0.1)
    runs = student.get(f"/api/instances/{instance.pk}/runs/").json()["runs"]
    assert runs[0]["state"] == "error" and runs[0]["output"] == "" and runs[0]["exit_code"] is None
    teacher_runs = api(teacher).get(f"/api/instances/{instance.pk}/runs/").json()["runs"]
    assert teacher_runs[0]["exit_code"] == 127 and teacher_runs[0]["output"] == "sh: x: not found"
    other = api(other_student)
    assert other.get(f"/api/instances/{instance.pk}/").status_code == 404
    assert other.get(f"/api/instances/{instance.pk}/runs/").status_code == 404
    assert other.post(f"/api/instances/{instance.pk}/steps/one/check/").status_code == 404


def test_a_token_is_shown_once_and_only_its_digest_is_kept(client_for, owner):
    page = client_for(owner).post("/labs/tokens/", {"name": "laptop"}).content.decode()
    record = ApiToken.objects.get(user=owner)
    token = page.split("<code data-new-token>")[1].split("</code>")[0]
    assert token.startswith("trm_") and token not in record.digest
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/labs/").status_code == 200
    assert token not in client_for(owner).get("/labs/tokens/").content.decode()
    client_for(owner).post("/labs/tokens/", {"delete": record.pk})
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/labs/").status_code == 401
