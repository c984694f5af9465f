"""Which action each status allows: the detail page offers exactly those, and
the owner's request for any other is refused with a message naming the status,
leaving the container as it was. A new shell opens only in a running container."""

import pytest
from django.urls import reverse

from dashboard.containers.models import Container
from dashboard.images.models import Image
from dashboard.shell.selectors import ShellUnavailable, shell_access

pytestmark = pytest.mark.django_db

OFFERED = {
    "queued": ["delete"],
    "starting": ["delete"],
    "running": ["delete", "restart", "stop"],
    "paused": ["delete", "restart", "stop"],
    "stopping": ["delete"],
    "exited": ["delete", "restart", "start"],
    "created": ["delete", "restart", "start"],
    "failed": ["delete", "restart", "start"],
    "deleting": [],
    "deleted": [],
}
# The status each action would have moved the container to, as its refusal says.
MOVES_TO = {"start": "queued", "stop": "stopping", "restart": "queued", "delete": "deleting"}


@pytest.fixture
def image(owner, node):
    return Image.objects.create(name="private-busybox", owner=owner, node=node, status="ready", store_name="x-1")


@pytest.mark.parametrize("status", sorted(OFFERED))
def test_the_status_json_offers_what_the_status_allows(client_for, owner, image, node, status):
    container = Container.objects.create(owner=owner, image=image, node=node, name="web", status=status)
    response = client_for(owner).get(reverse("containers:status", args=[container.id]))
    assert response.json()["actions"] == OFFERED[status]


@pytest.mark.parametrize("status", sorted(OFFERED))
def test_an_action_the_status_does_not_allow_is_refused_and_changes_nothing(client_for, owner, image, node, status):
    container = Container.objects.create(
        owner=owner, image=image, node=node, name="web", status=status, status_detail="as it was", runtime_id="c1"
    )
    client = client_for(owner)
    for action in sorted(set(MOVES_TO) - set(OFFERED[status])):
        page = client.post(reverse(f"containers:{action}", args=[container.id]), follow=True).content.decode()
        assert f"Container web is {status}: it cannot be {MOVES_TO[action]} now." in page
        container.refresh_from_db()
        assert (container.status, container.status_detail) == (status, "as it was")


@pytest.mark.parametrize("status", sorted(set(OFFERED) - {"running"}))
def test_a_shell_does_not_open_in_a_container_that_is_not_running(owner, image, node, status):
    container = Container.objects.create(owner=owner, image=image, node=node, name="web", status=status)
    with pytest.raises(ShellUnavailable, match=f"^container is {status}$"):
        shell_access(user=owner, container_id=container.id)


def test_a_shell_opens_in_a_running_container(owner, image, node):
    container = Container.objects.create(owner=owner, image=image, node=node, name="web", status="running")
    assert shell_access(user=owner, container_id=container.id).container == container
