"""Image import: the tarball is streamed to UPLOAD_DIR within the size limit,
checked, and imported by the node's worker, which reports pending, importing,
ready, or failed with the error."""

import io

import pytest
from django.urls import reverse

from dashboard.images.models import Image

pytestmark = pytest.mark.django_db


def upload(client, data: bytes, name="mybox", filename="rootfs.tar"):
    tarball = io.BytesIO(data)
    tarball.name = filename
    return client.post(reverse("images:new"), {"tarball": tarball, "name": name, "visibility": "private"})


def test_the_images_page_links_to_the_import_form_with_its_fields(client_for, owner):
    client = client_for(owner)
    assert ">Import image</a>" in client.get(reverse("images:list")).content.decode()
    page = client.get(reverse("images:new")).content.decode()
    assert ">Tarball</label>" in page and ">Name</label>" in page and ">Import</button>" in page
    assert "<progress" in page


def test_an_upload_over_the_limit_is_refused_and_nothing_is_kept(client_for, owner, node, uploads, settings, busybox_tar):
    settings.UPLOAD_MAX_BYTES = 100_000
    response = upload(client_for(owner), busybox_tar.read_bytes())
    assert response.status_code == 400
    assert "The file is larger than the 97.7\xa0KB limit." in response.content.decode()
    assert not Image.objects.exists()
    assert not any(uploads.iterdir())


def test_a_file_that_is_not_an_archive_is_refused(client_for, owner, node, uploads):
    response = upload(client_for(owner), b"hello, this is not a tarball\n" * 100)
    assert response.status_code == 400
    assert "This is not a tar archive" in response.content.decode()
    assert not Image.objects.exists() and not any(uploads.iterdir())


def test_a_duplicate_name_is_refused(client_for, owner, node, uploads, busybox_tar):
    Image.objects.create(name="mybox", owner=owner, node=node)
    response = upload(client_for(owner), busybox_tar.read_bytes())
    assert response.status_code == 400
    assert "An image named mybox already exists." in response.content.decode()
    assert not any(uploads.iterdir())


def test_an_upload_is_stored_and_queued_for_import_on_a_node(client_for, owner, node, uploads, busybox_tar):
    response = upload(client_for(owner), busybox_tar.read_bytes())
    assert response.status_code == 302 and response["Location"] == reverse("images:list")
    image = Image.objects.get(name="mybox")
    assert image.status == "pending" and image.node == node and image.owner == owner
    stored = list(uploads.iterdir())
    assert [p.name for p in stored] == [image.upload_name]
    assert stored[0].read_bytes() == busybox_tar.read_bytes()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_worker_imports_an_upload_and_the_list_shows_it_ready(client_for, owner, worker, uploads, busybox_tar, wait_until):
    client = client_for(owner)
    upload(client, busybox_tar.read_bytes())
    image = wait_until(lambda: Image.objects.filter(name="mybox", status__in=["ready", "failed"]).first())
    assert image.status == "ready", image.error
    assert image.file_count > 100 and image.size_bytes > 500_000 and image.format
    statuses = client.get(reverse("images:list-status")).json()["images"]
    assert [(s["id"], s["status"]) for s in statuses] == [(image.id, "ready")]

    assert client.post(reverse("images:delete", args=[image.id])).status_code == 302
    wait_until(lambda: not Image.objects.exists())
    assert not any(uploads.iterdir())


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_corrupt_archive_fails_with_the_runtimes_message(client_for, owner, worker, uploads, busybox_tar, wait_until):
    truncated = busybox_tar.read_bytes()[:300_000]
    upload(client_for(owner), truncated, name="broken")
    image = wait_until(lambda: Image.objects.filter(name="broken", status__in=["ready", "failed"]).first())
    assert image.status == "failed"
    assert image.error
    assert "\n" not in image.error.strip()
