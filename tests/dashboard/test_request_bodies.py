"""The web server refuses a request body past its path's limit before
reading it: Twisted would otherwise write it all to a temporary file before
any check of Django's runs."""

import socket

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1 << 20


def _post(server, path, headers: dict, body: bytes = b"") -> bytes:
    """What the server answers (its first bytes) to a POST whose body may be announced but not sent."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return s.recv(200)


def test_an_upload_announced_past_the_limit_is_refused_before_its_body(live_server):
    answer = _post(live_server, "/images/new/", {"Content-Length": settings.UPLOAD_MAX_BYTES + 2 * MiB,
                                                 "Content-Type": "multipart/form-data; boundary=x"})
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_large_body_anywhere_else_is_refused_before_it_is_read(live_server):
    answer = _post(live_server, "/login/", {"Content-Length": 10 * MiB,
                                            "Content-Type": "application/x-www-form-urlencoded"})
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_chunked_body_is_cut_at_the_limit(live_server):
    chunk = b"x" * MiB
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5))
    answer = _post(live_server, "/login/", {"Transfer-Encoding": "chunked",
                                            "Content-Type": "application/x-www-form-urlencoded"}, body)
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_small_body_reaches_django(live_server):
    answer = _post(live_server, "/login/", {"Content-Length": 3, "Content-Type": "application/x-www-form-urlencoded"},
                   b"a=b")
    # Django's own answer: no CSRF token.
    assert answer.startswith(b"HTTP/1.1 403")
