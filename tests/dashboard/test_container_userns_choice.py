"""The dashboard's containers get a user namespace of their own; only a
teacher may choose the host's ids, and the container page says which."""

import pytest
from django.conf import settings
from django.urls import reverse

from dashboard.containers.models import Container
from runtime import Runtime

pytestmark = pytest.mark.django_db


def post(client, image, **fields):
    return client.post(reverse("containers:new"), {"image": image.id, "name": "web", **fields})


def test_a_students_form_has_no_user_namespace_choice_and_a_forged_one_is_ignored(client_for, owner, busybox_image):
    page = client_for(owner).get(reverse("containers:new")).content.decode()
    assert ">User namespace</label>" not in page
    post(client_for(owner), busybox_image, userns="host")
    assert Container.objects.get(name="web").userns == "auto"


def test_a_teacher_may_choose_the_hosts_ids_and_the_page_shows_it(client_for, teacher, busybox_image):
    page = client_for(teacher).get(reverse("containers:new")).content.decode()
    assert ">User namespace</label>" in page
    post(client_for(teacher), busybox_image, userns="host")
    container = Container.objects.get(name="web")
    assert container.userns == "host"
    detail = client_for(teacher).get(reverse("containers:detail", args=[container.id])).content.decode()
    assert 'data-userns="host"' in detail


def test_the_service_refuses_the_hosts_ids_to_a_student(owner, busybox_image):
    from django.core.exceptions import ValidationError

    from dashboard.containers.services import container_create

    with pytest.raises(ValidationError, match="Only teachers"):
        container_create(owner=owner, image=busybox_image, name="web", userns="host")
    assert not Container.objects.exists()


def test_a_launched_container_runs_as_an_unprivileged_host_id(running_container):
    state = Runtime(root=settings.TERRARIUM_ROOT).get(running_container.runtime_name)
    assert state.userns["uid_base"] >= 100000
    with open(f"/proc/{state.pid}/status") as f:
        uid = next(line for line in f if line.startswith("Uid:")).split()[1]
    assert int(uid) == state.userns["uid_base"]
