"""The web server refuses a request body before anything stores it: an upload
without a logged-in session and a CSRF header (403), a body past its path's
limit (413), a chunked body cut when it passes the limit. The server is the real
one (python -m dashboard.webserver) in a subprocess whose TMPDIR is the test's:
Twisted and Django spool bodies there, so it must hold nothing afterwards."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from dashboard.images.models import Image
from processes import REPO, process_env, stop_group

pytestmark = pytest.mark.django_db(transaction=True)

UPLOAD_MAX_BYTES = 8 << 20
OTHER_PATHS_MAX_BYTES = 2_621_440  # DATA_UPLOAD_MAX_MEMORY_SIZE
CSRF_TOKEN = "k" * 32
BOUNDARY = "terrarium-test-boundary"


@pytest.fixture(scope="module")
def web(django_db_setup, runtime_session, tmp_path_factory):
    """The web server, spooling into its own empty TMPDIR (`.tmpdir`), uploads up to 8 MiB."""
    tmpdir = tmp_path_factory.mktemp("web-tmp")
    log = tmpdir.parent / "web.log"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = process_env(runtime_session, TMPDIR=str(tmpdir), UPLOAD_MAX_BYTES=str(UPLOAD_MAX_BYTES))
    cmd = [sys.executable, "-m", "dashboard.webserver", "-b", "127.0.0.1", "-p", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while not listening(port):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-4000:]
        time.sleep(0.1)
    yield SimpleNamespace(port=port, proc=proc, tmpdir=tmpdir)
    stop_group(proc)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def spooled(web) -> list[str]:
    """Files in the server's TMPDIR, and those it holds open there (Twisted's are unnamed)."""
    held = []
    for fd in Path(f"/proc/{web.proc.pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:
            continue
        if target.startswith(str(web.tmpdir)):
            held.append(target)
    return held + [p.name for p in web.tmpdir.iterdir()]


def exchange(web, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Sends a request's head and `body` (maybe only the start of what the head announces),
    sends nothing more, and returns the response's status and everything the server sent."""
    with socket.create_connection(("127.0.0.1", web.port), timeout=60) as s:
        s.sendall(head.encode() + body)
        received = b""
        try:
            while chunk := s.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    status = int(received.split(b" ", 2)[1]) if received else 0
    return status, received


def head(method: str, path: str, *, cookies: dict | None = None, **headers) -> str:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if cookies:
        lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return "\r\n".join(lines) + "\r\n\r\n"


def session_of(user) -> dict:
    client = Client()
    client.force_login(user)
    return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


def multipart(data: bytes, name="mybox") -> bytes:
    def field(key, value):
        return f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()

    file_part = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="tarball"; filename="rootfs.tar"\r\n'
        "Content-Type: application/x-tar\r\n\r\n"
    ).encode()
    return field("name", name) + field("visibility", "private") + file_part + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def chunked(total: int) -> bytes:
    """Chunked-encoding framing for `total` bytes, without the closing chunk: the server
    reads all of it before it can tell the body went past its limit."""
    size, out = 64 << 10, b""
    while total > 0:
        n = min(size, total)
        out += b"%x\r\n" % n + b"x" * n + b"\r\n"
        total -= n
    return out


UPLOAD_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.mark.parametrize(
    ("announced", "refusal"),
    [(UPLOAD_MAX_BYTES, b"403 Forbidden"), (100 << 20, b"413 Content Too Large")],
    ids=["within-the-limit", "100MB"],
)
def test_an_anonymous_upload_is_refused_before_its_body_is_stored(web, uploads, announced, refusal):
    request = head("POST", "/images/new/", Content_Length=announced, Content_Type=UPLOAD_TYPE)
    _, response = exchange(web, request, b"x" * 65536)
    assert response.startswith(b"HTTP/1.1 " + refusal)
    assert spooled(web) == [] and not any(uploads.iterdir())


@pytest.mark.parametrize("csrf_header", [None, "another-token-" + "z" * 18], ids=["missing", "wrong"])
def test_an_upload_without_a_matching_csrf_header_is_refused_before_its_body_is_stored(web, owner, uploads, csrf_header):
    cookies = {**session_of(owner), settings.CSRF_COOKIE_NAME: CSRF_TOKEN}
    extra = {"X_CSRFToken": csrf_header} if csrf_header else {}
    request = head("POST", "/images/new/", cookies=cookies, Content_Length=UPLOAD_MAX_BYTES, Content_Type=UPLOAD_TYPE, **extra)
    status, response = exchange(web, request, b"x" * 65536)
    assert status == 403 and b"CSRF" in response
    assert spooled(web) == [] and not any(uploads.iterdir())


def test_an_upload_from_a_deactivated_user_is_refused(web, owner, uploads):
    cookies = {**session_of(owner), settings.CSRF_COOKIE_NAME: CSRF_TOKEN}
    owner.is_active = False
    owner.save()
    request = head("POST", "/images/new/", cookies=cookies, X_CSRFToken=CSRF_TOKEN, Content_Length=UPLOAD_MAX_BYTES)
    status, response = exchange(web, request, b"x" * 65536)
    assert status == 403 and b"Log in first." in response
    assert spooled(web) == []


@pytest.mark.parametrize("path", ["/login/", "/images/", "/no-such-page/"])
def test_a_large_body_to_any_other_path_is_refused_unread(web, owner, path):
    cookies = {**session_of(owner), settings.CSRF_COOKIE_NAME: CSRF_TOKEN}
    request = head("POST", path, cookies=cookies, X_CSRFToken=CSRF_TOKEN, Content_Length=10 << 20)
    status, response = exchange(web, request)
    assert status == 413 and b"larger than the 2621440 bytes allowed here" in response
    assert spooled(web) == []


def test_a_logged_in_upload_larger_than_the_limit_is_refused_unread(web, owner, uploads):
    cookies = {**session_of(owner), settings.CSRF_COOKIE_NAME: CSRF_TOKEN}
    request = head("POST", "/images/new/", cookies=cookies, X_CSRFToken=CSRF_TOKEN, Content_Length=UPLOAD_MAX_BYTES * 2)
    status, _ = exchange(web, request)
    assert status == 413
    assert spooled(web) == [] and not any(uploads.iterdir())


def test_a_chunked_body_is_cut_when_it_passes_the_limit(web):
    request = head("POST", "/login/", Transfer_Encoding="chunked")
    status, response = exchange(web, request, chunked(OTHER_PATHS_MAX_BYTES + 1))
    assert status == 413 and b"larger than the 2621440 bytes allowed here" in response
    assert spooled(web) == []


def test_a_chunked_upload_is_cut_when_it_passes_the_upload_limit(web, owner, uploads):
    cookies = {**session_of(owner), settings.CSRF_COOKIE_NAME: CSRF_TOKEN}
    request = head("POST", "/images/new/", cookies=cookies, X_CSRFToken=CSRF_TOKEN, Transfer_Encoding="chunked")
    status, _ = exchange(web, request, chunked(UPLOAD_MAX_BYTES + (64 << 10) + 1))
    assert status == 413
    assert spooled(web) == [] and not any(uploads.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("expect_continue", [False, True], ids=["plain", "expect-100-continue"])
def test_an_upload_from_a_logged_in_user_with_the_csrf_header_is_imported(
    web, owner, worker, uploads, busybox_tar, wait_until, expect_continue
):
    body = multipart(busybox_tar.read_bytes())
    cookies = {**session_of(owner), settings.CSRF_COOKIE_NAME: CSRF_TOKEN}
    extra = {"Expect": "100-continue"} if expect_continue else {}
    request = head(
        "POST", "/images/new/", cookies=cookies, X_CSRFToken=CSRF_TOKEN, Content_Type=UPLOAD_TYPE,
        Content_Length=len(body), Connection="close", **extra,
    )
    with socket.create_connection(("127.0.0.1", web.port), timeout=60) as s:
        if expect_continue:
            s.sendall(request.encode())
            assert s.recv(25) == b"HTTP/1.1 100 Continue\r\n\r\n"
            s.sendall(body)
        else:
            s.sendall(request.encode() + body)
        response = b""
        while chunk := s.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 302 ") and b"Location: /images/" in response, response[:300]
    assert spooled(web) == []
    image = wait_until(lambda: Image.objects.filter(name="mybox", status__in=["ready", "failed"]).first())
    assert image.status == "ready" and image.owner == owner, image.error
    assert [p.name for p in uploads.iterdir()] == [image.upload_name]

    client = Client()
    client.force_login(owner)
    assert client.post(reverse("images:delete", args=[image.id])).status_code == 302
    wait_until(lambda: not Image.objects.exists())
