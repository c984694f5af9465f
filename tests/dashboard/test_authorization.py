"""Who may do what, over every URL and action: anonymous users are sent to the
login page, another student gets 404 (never their data), the owner and a
teacher are allowed. Only admins see the nodes page."""

import pytest
from django.urls import reverse

from dashboard.containers.models import Container
from dashboard.images.models import Image

pytestmark = pytest.mark.django_db

ALLOWED = {200, 302}


@pytest.fixture
def image(owner, node):
    return Image.objects.create(name="private-busybox", owner=owner, node=node, status="ready", store_name="x-1")


@pytest.fixture
def container(owner, image, node):
    return Container.objects.create(owner=owner, image=image, node=node, name="web", status="running")


def container_urls(container):
    c = container.id
    return [
        ("get", reverse("containers:detail", args=[c])),
        ("get", reverse("containers:status", args=[c])),
        ("post", reverse("containers:stop", args=[c])),
        ("post", reverse("containers:restart", args=[c])),
        ("post", reverse("containers:start", args=[c])),
        ("post", reverse("containers:delete", args=[c])),
    ]


def open_urls():
    return [
        ("get", reverse("containers:list")),
        ("get", reverse("containers:list-status")),
        ("get", reverse("containers:new")),
        ("post", reverse("containers:new")),
        ("get", reverse("images:list")),
        ("get", reverse("images:list-status")),
        ("get", reverse("images:new")),
        ("post", reverse("images:new")),
        ("get", reverse("nodes:list")),
        ("get", reverse("accounts:quotas")),
    ]


def test_anonymous_is_sent_to_the_login_page_everywhere(client_for, container, image):
    client = client_for(None)
    urls = [*container_urls(container), *open_urls(), ("post", reverse("images:delete", args=[image.id]))]
    for method, url in urls:
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith("/login/?next="), (method, url)


def test_another_student_gets_404_for_every_container_url(client_for, other_student, container):
    client = client_for(other_student)
    for method, url in container_urls(container):
        response = getattr(client, method)(url)
        assert response.status_code == 404, (method, url)
        assert b"web" not in response.content or b"No such" in response.content
    container.refresh_from_db()
    assert container.status == "running"


def test_another_student_cannot_delete_or_see_a_private_image(client_for, other_student, image):
    client = client_for(other_student)
    assert client.post(reverse("images:delete", args=[image.id])).status_code == 404
    assert b"private-busybox" not in client.get(reverse("images:list")).content
    assert image.id not in [i["id"] for i in client.get(reverse("images:list-status")).json()["images"]]
    assert Image.objects.filter(id=image.id).exists()


def test_another_student_does_not_see_the_container_in_lists(client_for, other_student, container):
    client = client_for(other_student)
    assert b"/containers/%d/" % container.id not in client.get(reverse("containers:list")).content
    assert client.get(reverse("containers:list-status")).json() == {"containers": []}


@pytest.mark.parametrize("persona", ["owner", "teacher"])
def test_owner_and_teacher_may_use_every_container_url(request, client_for, persona, container):
    client = client_for(request.getfixturevalue(persona))
    for method, url in container_urls(container):
        response = getattr(client, method)(url)
        assert response.status_code in ALLOWED, (persona, method, url, response.status_code)
    listed = client.get(reverse("containers:list-status")).json()["containers"]
    assert container.id in [c["id"] for c in listed]


@pytest.mark.parametrize("persona", ["owner", "teacher"])
def test_owner_and_teacher_may_delete_an_image(request, client_for, persona, image):
    client = client_for(request.getfixturevalue(persona))
    assert client.post(reverse("images:delete", args=[image.id])).status_code == 302
    image.refresh_from_db()
    assert image.status == "deleting"


@pytest.mark.parametrize("persona", ["owner", "other_student", "teacher"])
def test_only_admins_see_the_nodes_page(request, client_for, persona, admin_user, node):
    assert client_for(request.getfixturevalue(persona)).get(reverse("nodes:list")).status_code == 404
    response = client_for(admin_user).get(reverse("nodes:list"))
    assert response.status_code == 200
    assert node.name.encode() in response.content


@pytest.mark.parametrize("persona", ["owner", "other_student", "teacher"])
def test_only_admins_reach_the_django_admin(request, client_for, persona, admin_user):
    response = client_for(request.getfixturevalue(persona)).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client_for(admin_user).get("/admin/").status_code == 200


def test_every_model_is_in_the_django_admin(client_for, admin_user):
    client = client_for(admin_user)
    for path in ["accounts/quota", "containers/container", "containers/event", "images/image", "nodes/node"]:
        assert client.get(f"/admin/{path}/").status_code == 200, path
