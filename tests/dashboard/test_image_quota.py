"""Per-user image quota: a student keeps at most Quota.max_images images (failed
ones aside, deleting ones counted) taking at most Quota.max_image_bytes (their
unpacked files and kept uploads, plus the new upload). A refused upload leaves
nothing; teachers and admins are not bound."""

import io

import pytest
from django.urls import reverse

from dashboard.accounts.models import Quota
from dashboard.images.models import Image

pytestmark = pytest.mark.django_db


def upload(client, data: bytes, name="mybox"):
    tarball = io.BytesIO(data)
    tarball.name = "rootfs.tar"
    return client.post(reverse("images:new"), {"tarball": tarball, "name": name, "visibility": "private"})


def held(owner, node, count, status="ready", size_bytes=1000):
    for number in range(count):
        Image.objects.create(
            name=f"held-{status}-{number}", owner=owner, node=node, status=status, size_bytes=size_bytes,
            store_name=f"held-{number}",
        )


def test_a_student_past_the_image_count_is_refused_and_nothing_is_kept(client_for, owner, node, uploads, busybox_tar):
    held(owner, node, 4, "ready")
    held(owner, node, 1, "deleting")
    response = upload(client_for(owner), busybox_tar.read_bytes())
    assert response.status_code == 400
    assert "Image quota reached: you may keep at most 5 images." in response.content.decode()
    assert Image.objects.filter(owner=owner).count() == 5
    assert not any(uploads.iterdir())


def test_failed_images_do_not_count(client_for, owner, node, uploads, busybox_tar):
    held(owner, node, 4, "ready")
    held(owner, node, 3, "failed")
    client = client_for(owner)
    assert upload(client, busybox_tar.read_bytes(), "fifth").status_code == 302
    assert upload(client, busybox_tar.read_bytes(), "sixth").status_code == 400


def test_a_student_past_the_image_bytes_is_refused_and_nothing_is_kept(client_for, owner, node, uploads, busybox_tar):
    Quota.objects.create(user=owner, max_image_bytes=busybox_tar.stat().st_size + 1500)
    held(owner, node, 2, "ready", size_bytes=1000)
    response = upload(client_for(owner), busybox_tar.read_bytes())
    assert response.status_code == 400
    assert "Image quota exceeded" in response.content.decode()
    assert not Image.objects.filter(name="mybox").exists()
    assert not any(uploads.iterdir())


def test_the_upload_counts_until_the_image_is_unpacked(client_for, owner, node, uploads, busybox_tar):
    Quota.objects.create(user=owner, max_image_bytes=busybox_tar.stat().st_size * 2 - 1)
    client = client_for(owner)
    assert upload(client, busybox_tar.read_bytes(), "first").status_code == 302
    assert Image.objects.get(name="first").upload_bytes == busybox_tar.stat().st_size
    assert upload(client, busybox_tar.read_bytes(), "second").status_code == 400
    assert [p.name for p in uploads.iterdir()] == [Image.objects.get(name="first").upload_name]


def test_teachers_are_not_bound_where_a_student_is(client_for, owner, teacher, node, uploads, busybox_tar):
    for user in (owner, teacher):
        held(user, node, 10, "ready", size_bytes=10 << 30)
    assert upload(client_for(owner), busybox_tar.read_bytes()).status_code == 400
    assert upload(client_for(teacher), busybox_tar.read_bytes()).status_code == 302
