"""Uploads are bounded per request, not per file part, and checked for login
and CSRF before any byte is written: every refused or broken upload leaves
nothing in UPLOAD_DIR and no image."""

import io

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory
from django.urls import reverse

from dashboard.images import views
from dashboard.images.models import Image
from dashboard.images.uploads import LimitedUploadHandler

pytestmark = pytest.mark.django_db


def tarball(data: bytes, filename="rootfs.tar"):
    part = io.BytesIO(data)
    part.name = filename
    return part


def form(busybox_tar, **extra):
    return {"tarball": tarball(busybox_tar.read_bytes()), "name": "mybox", "visibility": "private", **extra}


def assert_nothing_kept(uploads):
    assert not Image.objects.exists()
    assert not any(uploads.iterdir())


def test_file_parts_that_together_pass_the_limit_are_refused(client_for, owner, node, uploads, settings, busybox_tar):
    size = busybox_tar.stat().st_size
    settings.UPLOAD_MAX_BYTES = size + size // 2
    data = form(busybox_tar, extra=tarball(busybox_tar.read_bytes(), "more.tar"))
    response = client_for(owner).post(reverse("images:new"), data)
    assert response.status_code == 400
    assert "The file is larger than the" in response.content.decode()
    assert_nothing_kept(uploads)


def test_a_second_file_part_is_refused(client_for, owner, node, uploads, busybox_tar):
    data = form(busybox_tar, extra=tarball(b"small", "more.tar"))
    response = client_for(owner).post(reverse("images:new"), data)
    assert response.status_code == 400
    assert "Send one tarball only." in response.content.decode()
    assert_nothing_kept(uploads)


def test_an_upload_without_a_csrf_token_is_refused_before_it_is_written(owner, node, uploads, busybox_tar):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    client.get(reverse("images:new"))
    assert client.post(reverse("images:new"), form(busybox_tar)).status_code == 403
    assert_nothing_kept(uploads)


def test_a_csrf_token_in_the_form_alone_is_refused_uploads_send_the_header(owner, node, uploads, busybox_tar):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    client.get(reverse("images:new"))
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    url = reverse("images:new")
    assert client.post(url, form(busybox_tar, csrfmiddlewaretoken=token)).status_code == 403
    assert_nothing_kept(uploads)

    response = client.post(url, form(busybox_tar), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302
    assert [p.name for p in uploads.iterdir()] == [Image.objects.get(name="mybox").upload_name]


def test_an_anonymous_upload_is_refused_and_nothing_is_written(client_for, node, uploads, busybox_tar):
    response = client_for(None).post(reverse("images:new"), form(busybox_tar))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert_nothing_kept(uploads)


def test_an_invalid_form_keeps_nothing(client_for, owner, node, uploads, busybox_tar):
    response = client_for(owner).post(reverse("images:new"), form(busybox_tar, name="not a name!"))
    assert response.status_code == 400
    assert_nothing_kept(uploads)


class DroppedConnection(io.RawIOBase):
    """A request body that stops with an error after `after` bytes, as a client that goes away."""

    def __init__(self, stream, after: int):
        self.stream, self.left = stream, after

    def read(self, size=-1):
        if self.left <= 0:
            raise OSError("connection reset by peer")
        chunk = self.stream.read(min(self.left, size if size and size > 0 else self.left))
        self.left -= len(chunk)
        return chunk

    def readline(self, size=-1):
        return self.read(size)


def test_a_client_that_goes_away_mid_upload_leaves_nothing(owner, node, uploads, busybox_tar):
    request = RequestFactory().post(reverse("images:new"), form(busybox_tar))
    request._stream = DroppedConnection(request._stream, after=busybox_tar.stat().st_size // 2)
    request.user = owner
    request._dont_enforce_csrf_checks = True
    with pytest.raises(OSError, match="connection reset"):
        views.image_new(request)
    assert_nothing_kept(uploads)


@pytest.mark.parametrize("who", ["anonymous", "no_csrf"])
def test_the_upload_handler_itself_refuses_before_reading_the_body(owner, uploads, busybox_tar, who):
    request = RequestFactory().post(reverse("images:new"), form(busybox_tar))
    request.user = AnonymousUser() if who == "anonymous" else owner
    handler = LimitedUploadHandler(request)
    request.upload_handlers = [handler]
    assert not request.FILES and not request.POST
    assert handler.problem
    assert not any(uploads.iterdir())
