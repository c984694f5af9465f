"""Every container gets a pids and a disk limit: a student's blank fields get
their quota's, which is also the most they may ask for; teachers and admins
without a quota get the settings' defaults and may ask for more. The limits
reach the runtime's configuration of the container."""

import pytest
from django.urls import reverse

from dashboard.accounts.models import Quota
from dashboard.containers.models import Container
from dashboard.images.models import Image

pytestmark = pytest.mark.django_db
GiB = 1 << 30


@pytest.fixture
def image(owner, node):
    return Image.objects.create(
        name="busybox", owner=owner, node=node, status="ready", store_name="busybox-1", visibility="shared"
    )


def launch(client, image, name="web", **fields):
    return client.post(reverse("containers:new"), {"image": image.id, "name": name, **fields})


def test_a_students_blank_limits_are_their_quotas(client_for, owner, image):
    assert launch(client_for(owner), image, "a").status_code == 302
    Quota.objects.create(user=owner, pids_limit=100, disk_bytes=2 * GiB)
    assert launch(client_for(owner), image, "b").status_code == 302
    limits = dict(Container.objects.values_list("name", "pids_limit"))
    disks = dict(Container.objects.values_list("name", "disk_bytes"))
    assert limits == {"a": 256, "b": 100}
    assert disks == {"a": GiB, "b": 2 * GiB}


def test_a_student_may_ask_for_less_but_not_more_than_the_quota(client_for, owner, image):
    client = client_for(owner)
    assert launch(client, image, "small", pids_limit="32", disk_limit="256m").status_code == 302
    assert Container.objects.get().pids_limit == 32 and Container.objects.get().disk_bytes == 256 << 20

    html = launch(client, image, "many", pids_limit="257").content.decode()
    assert 'id="id_pids_limit_error"' in html and "at most 256 pids per container" in html
    html = launch(client, image, "big", disk_limit="2g").content.decode()
    assert 'id="id_disk_limit_error"' in html and "at most 1024 MiB of disk per container" in html
    assert Container.objects.count() == 1


def test_a_teacher_without_a_quota_gets_the_settings_defaults_and_may_ask_for_more(client_for, teacher, image, settings):
    settings.CONTAINER_DEFAULT_PIDS, settings.CONTAINER_DEFAULT_DISK_BYTES = 1024, 10 * GiB
    client = client_for(teacher)
    assert launch(client, image, "plain").status_code == 302
    assert launch(client, image, "large", pids_limit="4096", disk_limit="20g").status_code == 302
    limits = {c.name: (c.pids_limit, c.disk_bytes) for c in Container.objects.all()}
    assert limits == {"plain": (1024, 10 * GiB), "large": (4096, 20 * GiB)}


def test_the_limits_reach_the_runtimes_configuration(client_for, owner, busybox_image, runtime_env):
    from runtime import Runtime

    from dashboard.containers.node import container_launch_on_node

    response = launch(client_for(owner), busybox_image, command="sleep 60", memory_limit="32m", disk_limit="512m")
    assert response.status_code == 302
    container = Container.objects.get()
    container_launch_on_node(container_id=container.id)
    container.refresh_from_db()
    assert container.status == "running", container.status_detail
    rt = Runtime(root=runtime_env.root, cgroup_parent=runtime_env.cgroup_parent)
    try:
        config = rt.get(container.runtime_name).config
        assert (config["pids_limit"], config["disk_bytes"]) == (256, 512 << 20)
    finally:
        rt.delete(container.runtime_name, force=True)
