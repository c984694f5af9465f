"""Quotas: students default to 3 containers, 1 GiB and 2 cpus at once; teachers
and admins set other limits; teachers are unlimited unless given a quota."""

import pytest
from django.urls import reverse

from dashboard.accounts.models import Quota
from dashboard.accounts.services import quota_set
from dashboard.containers.models import Container
from dashboard.images.models import Image

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(owner, node):
    return Image.objects.create(
        name="busybox", owner=owner, node=node, status="ready", store_name="busybox-1", visibility="shared"
    )


def launch(client, image, name, **fields):
    return client.post(reverse("containers:new"), {"image": image.id, "name": name, **fields})


def test_a_student_may_run_three_containers_at_once(client_for, owner, image):
    client = client_for(owner)
    for name in ["a", "b", "c"]:
        assert launch(client, image, name, memory_limit="64m", cpu_limit="0.5").status_code == 302
    response = launch(client, image, "d", memory_limit="64m", cpu_limit="0.5")
    assert response.status_code == 400
    assert "at most 3 containers" in response.content.decode()
    assert Container.objects.count() == 3


def test_exited_containers_do_not_count(client_for, owner, image):
    client = client_for(owner)
    for name in ["a", "b", "c"]:
        launch(client, image, name, memory_limit="64m", cpu_limit="0.5")
    Container.objects.filter(name="a").update(status="exited")
    assert launch(client, image, "d", memory_limit="64m", cpu_limit="0.5").status_code == 302


def test_memory_beyond_the_quota_is_refused_beside_the_memory_field(client_for, owner, image):
    client = client_for(owner)
    launch(client, image, "a", memory_limit="768m", cpu_limit="0.5")
    response = launch(client, image, "b", memory_limit="512m", cpu_limit="0.5")
    html = response.content.decode()
    assert 'id="id_memory_limit_error"' in html and "256 MiB of your quota is left" in html


def test_cpus_beyond_the_quota_are_refused_beside_the_cpu_field(client_for, owner, image):
    client = client_for(owner)
    launch(client, image, "a", memory_limit="64m", cpu_limit="1.5")
    html = launch(client, image, "b", memory_limit="64m", cpu_limit="1").content.decode()
    assert 'id="id_cpu_limit_error"' in html and "0.5 cpus of your quota are left" in html


def test_blank_limits_count_against_the_quota_with_defaults(client_for, owner, image):
    launch(client_for(owner), image, "a")
    container = Container.objects.get()
    assert container.memory_bytes == 256 << 20 and container.cpus == 0.5


def test_a_teacher_sets_a_students_quota(client_for, owner, teacher, image):
    quota_set(user=owner, max_containers=1, max_memory_bytes=1 << 30, max_cpus=2)
    client = client_for(owner)
    assert launch(client, image, "a", memory_limit="64m").status_code == 302
    assert "at most 1 containers" in launch(client, image, "b", memory_limit="64m").content.decode()


def test_a_teacher_without_a_quota_is_not_limited(client_for, teacher, image):
    client = client_for(teacher)
    for name in ["a", "b", "c", "d"]:
        assert launch(client, image, name, memory_limit="1g", cpu_limit="1").status_code == 302
    assert Container.objects.filter(memory_bytes=1 << 30).count() == 4


def test_a_teacher_sets_a_quota_on_the_quotas_page(client_for, owner, teacher, image):
    client = client_for(teacher)
    page = client.get("/quotas/").content.decode()
    assert 'data-user="owner"' in page and 'data-user="teacher"' not in page
    response = client.post(f"/quotas/{owner.id}/", {"max_containers": "1", "max_memory": "512m", "max_cpus": "1"})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert (owner.quota.max_containers, owner.quota.max_memory_bytes, owner.quota.max_cpus) == (1, 512 << 20, 1.0)


def test_a_teacher_sets_per_container_shell_and_image_limits_on_the_quotas_page(client_for, owner, teacher):
    client = client_for(teacher)
    page = client.get("/quotas/").content.decode()
    for name in ["pids_limit", "disk", "max_shells", "max_images", "max_image_bytes"]:
        assert f'name="{name}"' in page, name
    limits = {"pids_limit": "64", "disk": "2g", "max_shells": "2", "max_images": "3", "max_image_bytes": "512m"}
    data = {"max_containers": "1", "max_memory": "512m", "max_cpus": "1", **limits}
    assert client.post(f"/quotas/{owner.id}/", data).status_code == 302
    quota = Quota.objects.get(user=owner)
    assert (quota.pids_limit, quota.disk_bytes, quota.max_shells, quota.max_images, quota.max_image_bytes) == (
        64, 2 << 30, 2, 3, 512 << 20
    )
    assert 'value="2048m"' in client.get("/quotas/").content.decode()

    blank = {"max_containers": "2", "max_memory": "512m", "max_cpus": "1", "pids_limit": "", "disk": ""}
    assert client.post(f"/quotas/{owner.id}/", blank).status_code == 302
    quota.refresh_from_db()
    assert (quota.max_containers, quota.pids_limit, quota.disk_bytes) == (2, 64, 2 << 30)


def test_a_bad_quota_value_changes_nothing(client_for, owner, teacher):
    client = client_for(teacher)
    response = client.post(f"/quotas/{owner.id}/", {"max_containers": "1", "max_memory": "lots", "max_cpus": "1"}, follow=True)
    assert "unchanged" in response.content.decode()
    assert not Quota.objects.filter(user=owner).exists()


def test_a_bad_disk_limit_in_a_quota_changes_nothing(client_for, owner, teacher):
    data = {"max_containers": "1", "max_memory": "512m", "max_cpus": "1", "disk": "1k"}
    response = client_for(teacher).post(f"/quotas/{owner.id}/", data, follow=True)
    assert "unchanged" in response.content.decode() and "at least 16m" in response.content.decode()
    assert not Quota.objects.filter(user=owner).exists()


def test_students_cannot_see_or_set_quotas(client_for, owner, other_student):
    client = client_for(other_student)
    assert client.get("/quotas/").status_code == 404
    assert client.post(f"/quotas/{owner.id}/", {"max_containers": "9", "max_memory": "9g", "max_cpus": "9"}).status_code == 404
    assert client.post(f"/quotas/{other_student.id}/", {"max_containers": "9", "max_memory": "9g", "max_cpus": "9"}).status_code == 404


def test_a_teacher_cannot_set_another_teachers_quota_but_an_admin_can(client_for, teacher, admin_user, django_user_model):
    from django.contrib.auth.models import Group

    colleague = django_user_model.objects.create_user("colleague", password="pw-colleague")
    colleague.groups.add(Group.objects.get(name="teachers"))
    data = {"max_containers": "5", "max_memory": "2g", "max_cpus": "4"}
    assert client_for(teacher).post(f"/quotas/{colleague.id}/", data).status_code == 404
    assert client_for(admin_user).post(f"/quotas/{colleague.id}/", data).status_code == 302
    colleague.refresh_from_db()
    assert colleague.quota.max_containers == 5


def test_a_deleting_container_counts_until_the_worker_has_removed_it(client_for, owner, image, runtime_env):
    from dashboard.containers.node import container_delete_on_node

    client = client_for(owner)
    for name in ["a", "b", "c"]:
        launch(client, image, name, memory_limit="64m", cpu_limit="0.5")
    Container.objects.update(status="running", runtime_id="acknowledged")
    first = Container.objects.get(name="a")
    assert client.post(reverse("containers:delete", args=[first.id])).status_code == 302
    first.refresh_from_db()
    assert first.status == "deleting"

    refused = launch(client, image, "d", memory_limit="64m", cpu_limit="0.5")
    assert refused.status_code == 400 and "at most 3 containers" in refused.content.decode()

    container_delete_on_node(container_id=first.id)
    first.refresh_from_db()
    assert first.status == "deleted"
    assert launch(client, image, "d", memory_limit="64m", cpu_limit="0.5").status_code == 302
