"""Quotas: students default to 3 containers, 1 GiB and 2 cpus at once; teachers
and admins set other limits; teachers are unlimited unless given a quota."""

import pytest
from django.urls import reverse

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
