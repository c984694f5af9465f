"""Open WebSockets lose what their user lost. Every few seconds a socket
asks the database again who its session belongs to and whether that user
may still see what it shows: a logout, a password change (Django's session
hash), a role taken away or the container deleted closes it within
REVALIDATE_SECONDS plus a query, instead of streaming until the tab closes.
One indexed query or two per socket every two seconds: a class's hundred
sockets cost about a hundred queries a second on the web process."""

import asyncio
from importlib import import_module
from types import SimpleNamespace

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.core.exceptions import PermissionDenied
from django.http import Http404

REVALIDATE_SECONDS = 2
CLOSE_REVOKED = 4401


def session_user(scope):
    """The user the socket's session names now, read afresh (anonymous once
    it was logged out, flushed, or the password changed)."""
    session = scope.get("session")
    key = getattr(session, "session_key", None)
    store = import_module(settings.SESSION_ENGINE).SessionStore(key)
    # get_user reads request.session alone.
    return get_user(SimpleNamespace(session=store))


class Revalidating:
    """For an async WebSocket consumer: call `watch_access()` once accepted;
    `still_allowed(user)` (sync, in a thread) says whether the fresh user may
    keep the socket, raising PermissionDenied or Http404 counts as no."""

    _revalidator = None

    def still_allowed(self, user) -> bool:
        raise NotImplementedError

    def watch_access(self) -> None:
        # Sockets come through the session middleware (dashboard.asgi); a
        # consumer driven without one (a unit test's scope) has no session to watch.
        if "session" in self.scope:
            self._revalidator = asyncio.create_task(self._revalidate())

    def stop_watching(self) -> None:
        if self._revalidator is not None:
            self._revalidator.cancel()

    def _allowed_now(self) -> bool:
        user = session_user(self.scope)
        if not user.is_authenticated:
            return False
        try:
            return self.still_allowed(user)
        except (PermissionDenied, Http404):
            return False

    async def _revalidate(self) -> None:
        while True:
            await asyncio.sleep(REVALIDATE_SECONDS)
            if not await database_sync_to_async(self._allowed_now)():
                await self.close(code=CLOSE_REVOKED)
                return
