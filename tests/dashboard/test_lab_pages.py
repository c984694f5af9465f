"""Lab pages, the web side: a teacher imports a lab file and sees its errors
with their lines; a student starts their instance (a container of their own,
counted in their quota); another student's instance and results are a 404."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from dashboard.accounts.services import quota_set
from dashboard.containers.models import Container
from dashboard.images.models import Image
from dashboard.labs.models import CheckRun, Lab, LabInstance
from dashboard.shell.models import ShellSession

pytestmark = pytest.mark.django_db

LAB = b"""\
title: Hello lab
image: busybox
limits: {memory: 64m, cpus: 0.5, pids: 32}
params:
  - {name: WORD, type: word, words: [alpha, beta, gamma, delta]}
steps:
  - id: greet
    title: Say hello
    text: Write {{WORD}} into /tmp/hello.
    check: {run: 'grep -q {{WORD}} /tmp/hello', fail: No hello yet.}
"""


@pytest.fixture
def image(owner, node):
    return Image.objects.create(name="busybox", owner=owner, node=node, status="ready", store_name="busybox-1",
                                visibility="shared")


def upload(client, data: bytes, name="lab.yaml"):
    return client.post(reverse("labs:import"), {"lab_file": SimpleUploadedFile(name, data)})


@pytest.fixture
def lab(client_for, teacher, image):
    assert upload(client_for(teacher), LAB).status_code == 302
    lab = Lab.objects.get()
    lab.assigned_to_all = True
    lab.save()
    return lab


def test_a_teacher_imports_a_lab_and_sees_it_listed_by_title(client_for, teacher, image):
    client = client_for(teacher)
    page = client.get(reverse("labs:list")).content.decode()
    assert ">Import lab</button>" in page and '<label for="lab-file">Lab file</label>' in page and ">Import</button>" in page
    response = upload(client, LAB)
    lab = Lab.objects.get()
    assert response.url == reverse("labs:detail", args=[lab.pk])
    assert lab.owner == teacher and lab.image == image and lab.definition["steps"][0]["id"] == "greet"
    assert bytes(lab.source) == LAB
    assert ">Hello lab</a>" in client.get(reverse("labs:list")).content.decode()


def test_an_invalid_lab_is_refused_with_every_error_and_its_line(client_for, teacher, image):
    bad = LAB.replace(b"memory: 64m", b"memory: 1k").replace(b"image: busybox", b"image: nosuch")
    response = upload(client_for(teacher), bad)
    page = response.content.decode()
    assert response.status_code == 400
    assert "Line 3: The memory limit must be at least" in page
    assert not Lab.objects.exists()
    bad_image = upload(client_for(teacher), LAB.replace(b"image: busybox", b"image: nosuch"))
    assert "Line 2: image: no ready image named &#x27;nosuch&#x27;." in bad_image.content.decode()


def test_a_student_may_not_import_a_lab(client_for, owner, image):
    assert upload(client_for(owner), LAB).status_code == 403
    assert not Lab.objects.exists()


def test_a_lab_not_assigned_is_a_404_for_students(client_for, teacher, owner, image):
    upload(client_for(teacher), LAB)
    lab = Lab.objects.get()
    assert client_for(owner).get(reverse("labs:detail", args=[lab.pk])).status_code == 404
    client_for(teacher).post(reverse("labs:assign", args=[lab.pk]))
    page = client_for(owner).get(reverse("labs:detail", args=[lab.pk])).content.decode()
    assert ">Start lab</button>" in page and 'data-step="greet" data-state="pending"' in page


def test_start_lab_makes_the_students_container_with_the_labs_limits(client_for, owner, lab, image):
    response = client_for(owner).post(reverse("labs:start", args=[lab.pk]))
    assert response.url == reverse("labs:detail", args=[lab.pk])
    instance = LabInstance.objects.get(lab=lab, student=owner)
    container = instance.container
    assert instance.status == "creating"
    assert (container.owner, container.image, container.userns) == (owner, image, "auto")
    assert (container.memory_bytes, container.cpus, container.pids_limit) == (64 << 20, 0.5, 32)
    client_for(owner).post(reverse("labs:start", args=[lab.pk]))
    assert Container.objects.filter(owner=owner).count() == 1


def test_start_lab_counts_in_the_students_quota(client_for, owner, teacher, lab):
    quota_set(user=owner, max_containers=1, max_memory_bytes=1 << 30, max_cpus=2.0)
    Container.objects.create(owner=owner, image=lab.image, name="other", status="running", memory_bytes=1 << 20)
    page = client_for(owner).post(reverse("labs:start", args=[lab.pk]), follow=True).content.decode()
    assert "Quota reached" in page
    assert not LabInstance.objects.exists()


def test_the_students_text_has_their_own_params(client_for, owner, other_student, lab):
    words = {"alpha", "beta", "gamma", "delta"}
    mine = client_for(owner).get(reverse("labs:detail", args=[lab.pk])).content.decode()
    assert "{{WORD}}" not in mine and any(f"Write {w} into" in mine for w in words)


def test_another_students_instance_and_results_are_a_404(client_for, owner, other_student, lab):
    client_for(owner).post(reverse("labs:start", args=[lab.pk]))
    instance = LabInstance.objects.get()
    CheckRun.objects.create(instance=instance, step_id="greet", state="failed", message="No hello yet.")
    other = client_for(other_student)
    assert other.get(reverse("labs:instance", args=[instance.pk])).status_code == 404
    assert other.get(reverse("labs:instance-state", args=[instance.pk])).status_code == 404
    assert other.post(reverse("labs:check", args=[instance.pk, "greet"])).status_code == 404
    assert CheckRun.objects.count() == 1
    mine = client_for(owner).get(reverse("labs:instance-state", args=[instance.pk])).json()
    assert mine["steps"][0]["state"] == "failed" and mine["steps"][0]["message"] == "No hello yet."


def test_a_check_waits_for_the_lab_to_be_ready(client_for, owner, lab):
    client_for(owner).post(reverse("labs:start", args=[lab.pk]))
    instance = LabInstance.objects.get()
    response = client_for(owner).post(reverse("labs:check", args=[instance.pk, "greet"]))
    assert response.status_code == 409 and "not running" in response.json()["error"]
    assert not CheckRun.objects.exists()


def test_a_step_once_passed_stays_passed_and_errors_are_hidden_from_students(client_for, owner, teacher, lab):
    client_for(owner).post(reverse("labs:start", args=[lab.pk]))
    instance = LabInstance.objects.get()
    CheckRun.objects.create(instance=instance, step_id="greet", state="passed")
    CheckRun.objects.create(instance=instance, step_id="greet", state="error", exit_code=127, output="sh: nope",
                            message="The check's interpreter or a command it runs was not found (exit 127).")
    student = client_for(owner).get(reverse("labs:instance-state", args=[instance.pk])).json()
    assert student["steps"][0]["state"] == "passed" and student["progress"]["passed"] == 1
    CheckRun.objects.filter(state="passed").delete()
    student = client_for(owner).get(reverse("labs:instance-state", args=[instance.pk])).json()["steps"][0]
    assert student["state"] == "error" and student["message"] == "The check is broken: your teacher can see why."
    assert student["output"] == "" and student["exit_code"] is None
    seen = client_for(teacher).get(reverse("labs:instance-state", args=[instance.pk])).json()["steps"][0]
    assert "exit 127" in seen["message"] and seen["output"] == "sh: nope" and seen["exit_code"] == 127


def test_a_lab_whose_container_was_deleted_starts_again_in_a_new_one(client_for, owner, lab):
    client = client_for(owner)
    client.post(reverse("labs:start", args=[lab.pk]))
    instance = LabInstance.objects.get()
    LabInstance.objects.filter(pk=instance.pk).update(status="ready")
    assert ">Start lab</button>" not in client.get(reverse("labs:detail", args=[lab.pk])).content.decode()
    Container.objects.filter(pk=instance.container_id).update(status="deleted")
    assert ">Start lab</button>" in client.get(reverse("labs:detail", args=[lab.pk])).content.decode()
    client.post(reverse("labs:start", args=[lab.pk]))
    instance.refresh_from_db()
    assert instance.status == "creating" and instance.container.status == "queued"
    assert Container.objects.exclude(status="deleted").count() == 1


def test_every_labs_model_is_in_the_django_admin_without_the_labs_secret(client_for, admin_user, lab, owner):
    client = client_for(admin_user)
    client_for(owner).post(reverse("labs:start", args=[lab.pk]))
    for path in ["labs/lab", "labs/labinstance", "labs/checkrun", "labs/apitoken"]:
        assert client.get(f"/admin/{path}/").status_code == 200, path
    page = client.get(f"/admin/labs/lab/{lab.pk}/change/")
    assert page.status_code == 200 and 'name="secret"' not in page.content.decode()
    assert client.get(f"/admin/labs/labinstance/{LabInstance.objects.get().pk}/change/").status_code == 200


def test_a_step_may_be_checked_a_bounded_number_of_times(client_for, owner, lab, settings):
    settings.LAB_MAX_CHECKS_PER_STEP = 3
    client_for(owner).post(reverse("labs:start", args=[lab.pk]))
    instance = LabInstance.objects.get()
    LabInstance.objects.filter(pk=instance.pk).update(status="ready")
    Container.objects.filter(pk=instance.container_id).update(status="running")
    CheckRun.objects.bulk_create([CheckRun(instance=instance, step_id="greet", state="failed") for _ in range(3)])
    response = client_for(owner).post(reverse("labs:check", args=[instance.pk, "greet"]))
    assert response.status_code == 409 and "checked 3 times" in response.json()["error"]
    assert CheckRun.objects.count() == 3


def test_hints_unlock_after_failed_checks_or_time(client_for, teacher, owner, image):
    hinted = LAB.replace(b"check: {run:", b"hints:\n      - {text: 'Try **echo**.', after_failures: 2}\n"
                                         b"      - {text: 'Later.', after_seconds: 600}\n    check: {run:")
    upload(client_for(teacher), hinted)
    lab = Lab.objects.get()
    lab.assigned_to_all = True
    lab.save()
    client_for(owner).post(reverse("labs:start", args=[lab.pk]))
    instance = LabInstance.objects.get()
    LabInstance.objects.filter(pk=instance.pk).update(status="ready", ready_at=timezone.now())

    def step():
        return client_for(owner).get(reverse("labs:instance-state", args=[instance.pk])).json()["steps"][0]

    CheckRun.objects.create(instance=instance, step_id="greet", state="failed")
    assert step()["hints"] == [] and step()["next_hint_at"] is not None
    CheckRun.objects.create(instance=instance, step_id="greet", state="failed")
    assert step()["hints"] == ["<p>Try <strong>echo</strong>.</p>\n"]
    LabInstance.objects.filter(pk=instance.pk).update(ready_at=timezone.now() - timedelta(seconds=601))
    assert step()["hints"][1] == "<p>Later.</p>\n" and step()["next_hint_at"] is None


def test_a_lab_shared_with_teachers_is_seen_by_another_teacher(client_for, teacher, django_user_model, image):
    from django.contrib.auth.models import Group

    from dashboard.accounts.roles import TEACHERS_GROUP

    colleague = django_user_model.objects.create_user(username="colleague", password="pw-colleague")
    colleague.groups.add(Group.objects.get(name=TEACHERS_GROUP))
    upload(client_for(teacher), LAB)
    lab = Lab.objects.get()
    assert client_for(colleague).get(reverse("labs:detail", args=[lab.pk])).status_code == 404
    assert client_for(colleague).post(reverse("labs:share", args=[lab.pk]), {"shared": "yes"}).status_code == 404
    client_for(teacher).post(reverse("labs:share", args=[lab.pk]), {"shared": "yes"})
    page = client_for(colleague).get(reverse("labs:detail", args=[lab.pk])).content.decode()
    assert "Assign to all students" in page and "Share with other teachers" not in page
    assert client_for(colleague).post(reverse("labs:share", args=[lab.pk]), {"shared": "no"}).status_code == 403
    assert Lab.objects.get().shared_with_teachers


def test_the_teacher_watches_the_students_open_shell_from_the_instance_page(client_for, owner, teacher, lab):
    client_for(owner).post(reverse("labs:start", args=[lab.pk]))
    instance = LabInstance.objects.get()
    ShellSession.objects.create(key="closed-one", container=instance.container, user=owner, closed_at=timezone.now())
    ShellSession.objects.create(key="open-one", container=instance.container, user=owner)
    page = client_for(teacher).get(reverse("labs:instance", args=[instance.pk])).content.decode()
    watch = reverse("shell:terminal_session", args=[instance.container.pk, "open-one"])
    assert page.count("data-watch-shell") == 1 and f'href="{watch}"' in page
    assert client_for(teacher).get(watch).context["readonly"] is True
