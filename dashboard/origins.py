"""WebSockets are accepted only from the dashboard's own pages: the Origin
must be this server's scheme, host and port (or one of CSRF_TRUSTED_ORIGINS),
and the host one of ALLOWED_HOSTS.
Channels' AllowedHostsOriginValidator compares the host alone, so a page
served by anything else on the same host (another port) could open a shell
with the visitor's cookie."""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_key(scheme: str, netloc: str):
    parts = urlsplit(f"{scheme}://{netloc}")
    try:
        port = parts.port
    except ValueError:
        return None
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


def _allowed(scope) -> bool:
    headers = dict(scope.get("headers", ()))
    origin, host = headers.get(b"origin"), headers.get(b"host")
    if not origin or not host:
        return False
    parts = urlsplit(origin.decode("latin-1"))
    given = _origin_key(parts.scheme, parts.netloc)
    secure = scope.get("scheme") == "wss" or settings.HTTPS
    own = _origin_key("https" if secure else "http", host.decode("latin-1"))
    if own is None or not validate_host(own[1], settings.ALLOWED_HOSTS):
        return False
    trusted = {_origin_key(urlsplit(o).scheme, urlsplit(o).netloc) for o in settings.CSRF_TRUSTED_ORIGINS}
    return given is not None and (given == own or given in trusted)


class SameOriginValidator:
    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not _allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)
