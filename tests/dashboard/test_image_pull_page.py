"""Pull image on /images/: a reference is checked by the runtime's parser and
queued (one clear error and nothing recorded otherwise); the node's worker
pulls it from the registry, with the credentials the admin stored for that
registry (sealed in the database), and the row becomes ready with its digest,
or failed with the runtime's message. Tests pull from docker-registry on
127.0.0.1 (tests/registry_testing.py)."""

import gzip

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.urls import reverse

from dashboard.containers.models import Container
from dashboard.images.models import Image, RegistryAccess
from dashboard.images.node import image_ensure_in_store
from dashboard.images.routing import websocket_urlpatterns
from registry_testing import Registry, TokenIssuer, TokenServer
from runtime import ImageStore

pytestmark = pytest.mark.django_db(transaction=True)
TEACHER = ("teacher", "correct horse battery")
SERVICE = "sh -c 'while true; do sleep 1; done'"


@pytest.fixture
def registry():
    started = Registry()
    yield started
    started.stop()


@pytest.fixture(params=["htpasswd", "token"])
def private_registry(request, tmp_path):
    """A registry that lets only TEACHER pull: by Basic auth itself, or by the tokens of its token service."""
    tokens = TokenServer(TokenIssuer(tmp_path), {TEACHER[0]: TEACHER[1]}) if request.param == "token" else None
    started = Registry(tokens) if tokens else Registry(basic_user=TEACHER)
    yield started
    started.stop()
    if tokens:
        tokens.stop()


@pytest.fixture
def busybox_layer(busybox_tar) -> bytes:
    return gzip.compress(busybox_tar.read_bytes(), mtime=0)


def pull(client, reference, **fields):
    return client.post(reverse("images:pull"), {"reference": reference, "name": "", "platform": "", **fields})


def settled(wait_until, name):
    return wait_until(lambda: Image.objects.filter(name=name, status__in=["ready", "failed"]).first())


def store():
    from django.conf import settings

    return ImageStore(root=settings.TERRARIUM_ROOT)


def remove_pulled(client, image, wait_until):
    assert client.post(reverse("images:delete", args=[image.id])).status_code == 302
    wait_until(lambda: not Image.objects.filter(id=image.id).exists())


def test_the_images_page_has_the_pull_form(client_for, owner):
    page = client_for(owner).get(reverse("images:list")).content.decode()
    assert ">Reference</label>" in page and ">Pull</button>" in page
    assert ">Platform</label>" in page and ">Image name</label>" in page


@pytest.mark.slow
def test_a_pulled_image_becomes_ready_and_runs_a_container(
        client_for, owner, worker, registry, busybox_layer, wait_until):
    digest = registry.push_image("lab/busybox", "1", [busybox_layer])
    client = client_for(owner)
    response = pull(client, f"{registry.netloc}/lab/busybox:1")
    assert response.status_code == 302 and response["Location"] == reverse("images:list")

    image = settled(wait_until, "busybox:1")
    assert image.status == "ready", image.error
    assert image.reference == f"{registry.netloc}/lab/busybox:1" and image.pulled_digest == digest
    assert image.format == "registry" and image.file_count > 100 and image.size_bytes > 500_000
    assert f"{registry.netloc}/lab/busybox:1" in client.get(reverse("images:list")).content.decode()

    data = {"image": image.id, "name": "web", "command": SERVICE, "memory_limit": "64m"}
    assert client.post(reverse("containers:new"), data).status_code == 302
    container = Container.objects.get(name="web")
    wait_until(lambda: Container.objects.get(id=container.id).status == "running")
    client.post(reverse("containers:delete", args=[container.id]))
    wait_until(lambda: Container.objects.get(id=container.id).status == "deleted")
    remove_pulled(client, image, wait_until)


@pytest.mark.slow
def test_a_node_without_the_image_pulls_it_again_by_its_digest(
        client_for, owner, worker, registry, busybox_layer, wait_until):
    digest = registry.push_image("lab/busybox", "1", [busybox_layer])
    client = client_for(owner)
    pull(client, f"{registry.netloc}/lab/busybox:1")
    image = settled(wait_until, "busybox:1")
    assert image.status == "ready", image.error
    # The tag moves on; the node that lacks the image must get the one that was pulled.
    registry.push_image("lab/busybox", "1", [gzip.compress(b"\0" * 1024)])
    store().remove(image.store_name)

    image_ensure_in_store(image=image)

    assert store().get(image.store_name).source["digest"] == digest
    remove_pulled(client, image, wait_until)


def test_a_bad_reference_is_one_error_and_nothing_is_recorded(client_for, owner, node):
    response = pull(client_for(owner), "Lab/Web:1")
    page = response.content.decode()
    assert response.status_code == 400
    assert page.count('role="alert"') == 1 and "must be lowercase letters" in page
    assert not Image.objects.exists()


def test_a_bad_platform_is_one_error_and_nothing_is_recorded(client_for, owner, node):
    response = pull(client_for(owner), "debian:12", platform="amd64")
    assert response.status_code == 400
    assert "is not os/arch[/variant]" in response.content.decode()
    assert not Image.objects.exists()


@pytest.mark.slow
def test_an_unknown_tag_fails_with_the_runtimes_message(client_for, owner, worker, registry, busybox_layer, wait_until):
    registry.push_image("lab/busybox", "1", [busybox_layer])
    pull(client_for(owner), f"{registry.netloc}/lab/busybox:2")
    image = settled(wait_until, "busybox:2")
    assert image.status == "failed"
    assert image.error == f"registry {registry.netloc} has no lab/busybox:2"
    statuses = client_for(owner).get(reverse("images:list-status")).json()["images"]
    assert [(s["status"], s["error"]) for s in statuses] == [("failed", image.error)]


def store_credentials(client_for, admin_user, host, username, secret):
    response = client_for(admin_user).post(
        reverse("admin:images_registryaccess_add"), {"host": host, "username": username, "secret": secret})
    assert response.status_code == 302, response.content.decode()[-3000:]


@pytest.mark.slow
def test_a_registry_behind_auth_pulls_only_with_the_stored_credentials(
        client_for, owner, admin_user, worker, private_registry, busybox_layer, wait_until):
    private_registry.push_image("private/busybox", "1", [busybox_layer])
    client = client_for(owner)
    pull(client, f"{private_registry.netloc}/private/busybox:1", name="without")
    refused = settled(wait_until, "without")
    assert refused.status == "failed" and "private/busybox" in refused.error

    store_credentials(client_for, admin_user, private_registry.netloc, TEACHER[0], TEACHER[1])
    pull(client, f"{private_registry.netloc}/private/busybox:1", name="with")
    image = settled(wait_until, "with")
    assert image.status == "ready", image.error
    remove_pulled(client, image, wait_until)


def test_the_stored_password_is_sealed_and_never_shown_back(client_for, admin_user):
    store_credentials(client_for, admin_user, "registry.school.example:5000", TEACHER[0], TEACHER[1])
    access = RegistryAccess.objects.get()
    assert access.sealed_secret and TEACHER[1] not in access.sealed_secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM images_registryaccess")
        assert TEACHER[1] not in repr(cursor.fetchall())
    page = client_for(admin_user).get(reverse("admin:images_registryaccess_change", args=[access.id]))
    assert TEACHER[1] not in page.content.decode() and access.sealed_secret not in page.content.decode()


def test_a_registry_is_stored_as_references_name_it(client_for, admin_user):
    for host in ("myregistry", "https://registry.school.example", "registry.school.example/lab"):
        response = client_for(admin_user).post(reverse("admin:images_registryaccess_add"), {"host": host})
        assert response.status_code == 200 and "as references name it: host or host:port" in response.content.decode()
    store_credentials(client_for, admin_user, "index.docker.io", "teacher", "")
    assert list(RegistryAccess.objects.values_list("host", "sealed_secret")) == [("docker.io", "")]


def test_a_student_cannot_reach_the_registry_settings(client_for, owner):
    response = client_for(owner).get(reverse("admin:images_registryaccess_add"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_another_users_pulled_image_is_not_found(client_for, owner, other_student, node):
    image = Image.objects.create(name="busybox:1", owner=owner, node=node, format="registry", status="ready",
                                 reference="127.0.0.1:5000/lab/busybox:1", store_name="busybox-1-0000")
    client = client_for(other_student)
    assert client.post(reverse("images:delete", args=[image.id])).status_code == 404
    assert client.get(reverse("images:download", args=[image.id])).status_code == 404
    assert client.get(reverse("images:list-status")).json()["images"] == []
    assert "127.0.0.1:5000/lab/busybox:1" not in client.get(reverse("images:list")).content.decode()


def test_a_student_past_the_image_count_is_refused_and_nothing_is_recorded(client_for, owner, node):
    for number in range(5):
        Image.objects.create(name=f"held-{number}", owner=owner, node=node, status="ready", store_name=f"held-{number}")
    response = pull(client_for(owner), "debian:12")
    assert response.status_code == 400
    assert "Image quota reached: you may keep at most 5 images." in response.content.decode()
    assert Image.objects.filter(owner=owner).count() == 5


async def test_the_page_is_told_each_layers_bytes_then_ready(
        client_for, owner, other_student, worker, registry, busybox_layer, wait_until):
    await sync_to_async(registry.push_image)("lab/busybox", "1", [busybox_layer])
    mine, theirs = await connect(owner), await connect(other_student)

    await sync_to_async(pull)(await sync_to_async(client_for)(owner), f"{registry.netloc}/lab/busybox:1")
    messages = [await mine.receive_json_from(timeout=60)]
    while messages[-1].get("status") not in ("ready", "failed"):
        messages.append(await mine.receive_json_from(timeout=60))

    assert messages[-1]["status"] == "ready", messages[-1]
    layers = [m["layers"] for m in messages if "layers" in m]
    assert layers and all(len(ls) == 1 and ls[0]["total"] == len(busybox_layer) for ls in layers)
    assert layers[0][0]["done"] <= layers[-1][0]["done"] <= len(busybox_layer)
    assert await theirs.receive_nothing(timeout=1)
    await mine.disconnect()
    await theirs.disconnect()
    image = await sync_to_async(Image.objects.get)(name="busybox:1")
    await sync_to_async(remove_pulled)(await sync_to_async(client_for)(owner), image, wait_until)


async def connect(user):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/images/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_nobody_logged_in_is_refused_before_accept():
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/images/")
    communicator.scope["user"] = AnonymousUser()
    connected, code = await communicator.connect()
    assert not connected and code == 4403

