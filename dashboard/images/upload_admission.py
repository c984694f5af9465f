"""Whether the web server may read an upload's body at all: the upload view's
verdict on login and CSRF, taken from the request's headers alone, before the
server has read or spooled a byte of the body (dashboard.request_bodies asks,
in a thread: it reads the session from the database)."""

from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user
from django.db import close_old_connections
from django.http import HttpRequest
from django.http.cookie import parse_cookie

from dashboard.images.uploads import upload_csrf_failure


class HeadersOnlyRequest(HttpRequest):
    """An HttpRequest built from a request line and headers, with no body (empty POST),
    META named as Django's ASGI handler names it."""

    def __init__(self, *, method: str, path: str, headers: list[tuple[bytes, list[bytes]]], scheme: str, server: tuple):
        super().__init__()
        self.method = method
        self.path = self.path_info = path
        self._scheme = scheme
        self.META["SERVER_NAME"], self.META["SERVER_PORT"] = str(server[0]), str(server[1])
        for raw_name, raw_values in headers:
            name = raw_name.decode("latin1").upper()
            if "_" in name:
                # Dropped by Daphne too: HTTP_X_FOO must not be forgeable as X_Foo (CVE-2015-0219).
                continue
            key = name.replace("-", "_")
            if key not in ("CONTENT_LENGTH", "CONTENT_TYPE"):
                key = "HTTP_" + key
            values = [v.decode("latin1") for v in raw_values]
            self.META[key] = ("; " if key == "HTTP_COOKIE" else ",").join(values)
        self.COOKIES = parse_cookie(self.META.get("HTTP_COOKIE", ""))

    def _get_scheme(self):
        return self._scheme


def upload_refusal(*, method: str, path: str, headers: list[tuple[bytes, list[bytes]]], scheme: str, server: tuple):
    """None if the request comes from an active user's session with an X-CSRFToken header
    that matches its CSRF cookie; else why not, in a sentence."""
    close_old_connections()
    try:
        request = HeadersOnlyRequest(method=method, path=path, headers=headers, scheme=scheme, server=server)
        store = import_module(settings.SESSION_ENGINE).SessionStore
        request.session = store(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
        user = get_user(request)
        if not (user.is_authenticated and user.is_active):
            return "Log in first."
        if upload_csrf_failure(request) is not None:
            return "The CSRF check failed: reload the page and try again."
        return None
    finally:
        close_old_connections()
