"""A WebSocket is opened only from the dashboard's own pages: the Origin's
scheme, host and port must be the server's (or a trusted origin)."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from dashboard.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def _connects(cookie, origin, host=b"testserver", scope=None) -> bool:
    headers = [(b"host", host), (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]
    if origin is not None:
        headers.append((b"origin", origin))
    communicator = WebsocketCommunicator(application, "/ws/stats/overview/", headers=headers)
    communicator.scope.update(scope or {})
    connected, _ = await communicator.connect(timeout=10)
    await communicator.disconnect()
    return connected


@pytest.fixture
async def cookie(owner, session_cookie_for):
    return await sync_to_async(session_cookie_for)(owner)


async def test_the_servers_own_origin_is_accepted(cookie):
    assert await _connects(cookie, b"http://testserver")
    assert await _connects(cookie, b"http://testserver:8000", host=b"testserver:8000")


async def test_another_port_on_the_same_host_is_refused(cookie):
    assert not await _connects(cookie, b"http://testserver:8080")
    assert not await _connects(cookie, b"http://testserver:8080", host=b"testserver:8000")


async def test_another_scheme_is_refused(cookie):
    assert not await _connects(cookie, b"https://testserver")
    assert not await _connects(cookie, b"http://testserver", scope={"scheme": "wss"})


async def test_no_origin_or_a_host_not_allowed_is_refused(cookie):
    assert not await _connects(cookie, None)
    assert not await _connects(cookie, b"http://evil.test", host=b"evil.test")


async def test_a_trusted_origin_is_accepted(cookie, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "lab.example.org"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://lab.example.org"]
    assert await _connects(cookie, b"https://lab.example.org")
    assert not await _connects(cookie, b"https://lab.example.org:8443")
