"""Save as image: a container's page saves the container as an image of the
user's, made by the worker of the container's node and counted in the
user's image quota; an image's download link streams a docker save
archive of it from its node, to whoever may see the image."""

import io
import json
import tarfile

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.urls import reverse

from dashboard.accounts.models import Quota
from dashboard.images.models import Image
from runtime import ImageStore, Runtime

pytestmark = pytest.mark.django_db(transaction=True)
# Tests that need both ask for running_container before worker: a worker that
# starts reconciles, and would queue again a container still starting.


@pytest.fixture
def store(runtime_env):
    """The node's image store; the images the test saved are removed from it at the end (newest first)."""
    store = ImageStore(root=runtime_env.root)
    yield store
    for image in Image.objects.filter(format="commit").order_by("-id"):
        for info in store.list():
            if info.name == image.store_name:
                store.remove(info.id)


def write_in(container, script: str) -> None:
    session = Runtime(root=settings.TERRARIUM_ROOT).exec(container.runtime_name, ["sh", "-c", script])
    try:
        assert session.wait() == 0
    finally:
        session.close()


async def read_all(response) -> bytes:
    return b"".join([chunk async for chunk in response.streaming_content])


def save(client, container, name: str):
    return client.post(reverse("images:commit", args=[container.id]), {"name": name})


def saved(wait_until, name: str) -> Image:
    return wait_until(lambda: Image.objects.filter(name=name, status__in=["ready", "failed"]).first())


def test_the_container_page_has_a_save_as_image_form(client_for, owner, running_container):
    page = client_for(owner).get(reverse("containers:detail", args=[running_container.id])).content.decode()
    assert reverse("images:commit", args=[running_container.id]) in page
    assert 'name="name"' in page and "Save as image" in page


@pytest.mark.slow
def test_saving_a_running_container_makes_an_image_of_the_owners(
        client_for, owner, running_container, busybox_image, worker, store, wait_until):
    write_in(running_container, "echo prepared > /lab-file; rm /etc/group")
    response = save(client_for(owner), running_container, "prepared")
    assert response.status_code == 302 and response.url == reverse("images:list")
    image = saved(wait_until, "prepared")
    assert image.status == "ready", image.error
    assert (image.owner, image.base, image.format, image.node) == (owner, busybox_image, "commit", running_container.node)
    assert image.size_bytes > 0 and image.runtime_id
    layer = store.get(image.store_name).rootfs
    with open(f"{layer}/lab-file") as f:
        assert f.read() == "prepared\n"
    assert Runtime(root=settings.TERRARIUM_ROOT).get(running_container.runtime_name).status == "running"


@pytest.mark.slow
def test_a_teacher_saves_a_students_container_as_the_teachers_image(
        client_for, teacher, running_container, worker, store, wait_until):
    save(client_for(teacher), running_container, "from-student")
    image = saved(wait_until, "from-student")
    assert image.status == "ready", image.error
    assert image.owner == teacher


def test_another_student_cannot_save_a_container_or_see_it_refused(client_for, other_student, running_container):
    assert save(client_for(other_student), running_container, "stolen").status_code == 404
    assert not Image.objects.filter(name="stolen").exists()


def test_a_taken_name_is_refused_and_nothing_is_queued(client_for, owner, running_container, busybox_image):
    client = client_for(owner)
    response = save(client, running_container, "busybox")
    assert response.status_code == 302 and response.url == reverse("containers:detail", args=[running_container.id])
    assert Image.objects.filter(owner=owner).count() == 1
    page = client.get(response.url).content.decode()
    assert "An image named busybox already exists." in page


def test_a_full_image_quota_refuses_the_save(client_for, owner, running_container, busybox_image):
    Quota.objects.create(user=owner, max_images=1)
    client = client_for(owner)
    response = save(client, running_container, "one-too-many")
    assert response.status_code == 302
    assert not Image.objects.filter(name="one-too-many").exists()
    assert "Image quota reached" in client.get(response.url).content.decode()


@pytest.mark.slow
def test_the_download_streams_a_docker_archive_that_imports_again(
        client_for, owner, other_student, running_container, worker, store, wait_until):
    write_in(running_container, "echo shipped > /shipped")
    client = client_for(owner)
    save(client, running_container, "to-ship")
    image = saved(wait_until, "to-ship")
    assert image.status == "ready", image.error
    assert reverse("images:download", args=[image.id]) in client.get(reverse("images:list")).content.decode()

    response = client.get(reverse("images:download", args=[image.id]))
    assert response.status_code == 200 and response["Content-Type"] == "application/x-tar"
    archive = async_to_sync(read_all)(response)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        (manifest,) = json.load(tar.extractfile("manifest.json"))
    assert len(manifest["Layers"]) == 2
    again = store.import_archive(io.BytesIO(archive), name="shipped-again")
    try:
        with open(f"{again.rootfs}/shipped") as f:
            assert f.read() == "shipped\n"
    finally:
        store.remove(again.id)

    assert client_for(other_student).get(reverse("images:download", args=[image.id])).status_code == 404


def test_another_users_private_image_is_not_downloadable(client_for, owner, other_student, node):
    image = Image.objects.create(name="private", owner=owner, node=node, status=Image.Status.READY,
                                 store_name="private-test")
    assert client_for(other_student).get(reverse("images:download", args=[image.id])).status_code == 404


@pytest.mark.slow
def test_the_base_of_a_saved_image_cannot_be_deleted(
        client_for, owner, running_container, busybox_image, worker, store, wait_until):
    client = client_for(owner)
    save(client, running_container, "derived")
    assert saved(wait_until, "derived").status == "ready"
    response = client.post(reverse("images:delete", args=[busybox_image.id]))
    assert response.status_code == 302
    assert "Image busybox is the base of image derived: delete that first." in client.get(response.url).content.decode()
    busybox_image.refresh_from_db()
    assert busybox_image.status == "ready"


@pytest.mark.slow
def test_the_worker_refuses_a_commit_row_naming_another_users_container(
        other_student, running_container, busybox_image, worker, store, wait_until):
    # A row the web side would never write: another student's image of the owner's container.
    from dashboard.images.services import image_store_name
    from dashboard.images.tasks import image_commit

    image = Image.objects.create(name="forged", owner=other_student, node=running_container.node,
                                 base=busybox_image, format="commit", store_name=image_store_name("forged"))
    image_commit.apply_async(args=[image.id, running_container.id], queue=running_container.node.queue)
    image = saved(wait_until, "forged")
    assert (image.status, image.error) == ("failed", "Refused: the container is not the image owner's.")
    assert not [info for info in store.list() if info.name == image.store_name]
