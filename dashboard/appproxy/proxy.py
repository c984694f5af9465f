"""The node agent's app proxy (root): serves every container app of this
node on its own origin, `c<pk>-<port>.<domain>`, to the users the
dashboard lets open it.

A browser arrives from the dashboard's /apps/<pk>/<port>/ at
/_terrarium/auth?token=..., a signed token that works once within a
minute (its nonce is taken from Redis, where it names the user's dashboard
session); the proxy checks it is for this host, asks the database again,
sets its cookie (host-only, HttpOnly, SameSite=Lax, signed, bound to the
user, container, port and, through a grant in Redis, that session) and
sends the browser to `/`. Every other request needs that cookie, is checked
against the database (cached ACCESS_CACHE_SECONDS: a logout closes the app
too), and goes to the address the runtime
gives the container, without the proxy's cookie and with X-Forwarded-*.
One request per connection; a WebSocket upgrade, once the app answers 101,
is spliced both ways. The app's cookies stay host-only (a Domain attribute
is removed) and none of them may take the proxy cookie's name."""

import asyncio
import logging
import time
from urllib.parse import parse_qs, urlsplit

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from django.conf import settings

from dashboard.appproxy import http1, origins, tokens
from dashboard.appproxy.selectors import app_user_may_open
from runtime import Runtime, TerrariumError

log = logging.getLogger(__name__)

HEAD_SECONDS = 30
UPSTREAM_HEAD_SECONDS = 300
CONNECT_SECONDS = 10
ACCESS_CACHE_SECONDS = 3
MAX_CONNECTIONS = 1024
MAX_CONNECTIONS_PER_USER = 64
# Browsers send every cookie of a name the host may see (several paths, a
# tossed one): each is tried, up to this many.
MAX_COOKIES_TRIED = 4


class AppProxy:
    def __init__(self, node_name: str, runtime, redis):
        self.node_name = node_name
        self.runtime = runtime
        self.redis = redis
        self.connections = 0
        self.per_user: dict[int, int] = {}
        self.access: dict[tuple, tuple[bool, float]] = {}

    async def serve(self) -> None:
        try:
            server = await asyncio.start_server(
                self.handle, host=settings.TERRARIUM_APPS_BIND, port=settings.TERRARIUM_APPS_PORT,
                limit=http1.HEAD_LIMIT, reuse_address=True,
            )
        except OSError as exc:
            # The agent's other components (shells, samples) go on without it.
            log.error("app proxy: cannot listen on %s:%s: %s (set TERRARIUM_APPS_PORT)",
                      settings.TERRARIUM_APPS_BIND, settings.TERRARIUM_APPS_PORT, exc.strerror)
            return
        log.info("app proxy on %s:%s", settings.TERRARIUM_APPS_BIND, settings.TERRARIUM_APPS_PORT)
        async with server:
            await server.serve_forever()

    async def handle(self, reader, writer) -> None:
        self.connections += 1
        try:
            if self.connections > MAX_CONNECTIONS:
                writer.write(http1.response(503, "Service Unavailable", body="<p>Too many connections.</p>"))
            else:
                await self._request(reader, writer)
            await writer.drain()
        except (http1.BadMessage, ConnectionError, asyncio.IncompleteReadError) as exc:
            log.debug("app proxy: %s", exc)
        except Exception:
            log.exception("app proxy: a request failed")
        finally:
            self.connections -= 1
            writer.close()

    async def _request(self, reader, writer) -> None:
        try:
            head = await http1.read_head(reader, HEAD_SECONDS)
            if head is None:
                return
            method, target = http1.request_line(head)
            framing = http1.body_framing(head)
        except http1.BadMessage as exc:
            writer.write(http1.response(400, "Bad Request", body=f"<p>{exc}.</p>"))
            return
        hosts = head.get_all("host")
        app = origins.parse_app_host(hosts[0], node_name=self.node_name) if len(hosts) == 1 else None
        if app is None:
            writer.write(http1.response(404, "Not Found", body="<p>No such app.</p>"))
            return
        path = urlsplit(target).path
        if path == origins.AUTH_PATH:
            writer.write(await self._auth(app, target))
            return
        found, stale = self._cookie_grant(head, app)
        if found is None or not await self._may_open(*found, app):
            writer.write(self._to_dashboard(app, expire=stale or found is not None))
            return
        user_id = found[0]
        if not self._same_app_origin(head, app):
            writer.write(http1.response(403, "Forbidden", body="<p>Requests from another site are refused.</p>"))
            return
        if self.per_user.get(user_id, 0) >= MAX_CONNECTIONS_PER_USER:
            writer.write(http1.response(503, "Service Unavailable", body="<p>Too many connections.</p>"))
            return
        self.per_user[user_id] = self.per_user.get(user_id, 0) + 1
        try:
            await self._forward(reader, writer, head, method, framing, app)
        finally:
            self.per_user[user_id] -= 1
            if not self.per_user[user_id]:
                del self.per_user[user_id]

    # ---- who asks ----

    async def _auth(self, app, target: str) -> bytes:
        pk, port = app
        token = (parse_qs(urlsplit(target).query).get("token") or [""])[0]
        payload = tokens.token_read(token, container_pk=pk, port=port)
        # Taken once: the nonce names the dashboard's session only until the first use.
        session_key = payload and await self.redis.getdel(tokens.NONCE_KEY.format(payload["n"]))
        if not session_key:
            return http1.response(403, "Forbidden", [("Referrer-Policy", "no-referrer")], body=(
                "<p>This link has expired or was used already.</p>"
                f'<p><a href="{origins.dashboard_app_url(container_pk=pk, port=port)}">Open the app again</a></p>'))
        grant = tokens.new_secret()
        await self.redis.set(tokens.GRANT_KEY.format(grant), session_key, ex=tokens.COOKIE_SECONDS)
        if not await self._may_open(payload["u"], grant, app, cached=False):
            return self._to_dashboard(app, expire=True)
        value = tokens.cookie_value(user_id=payload["u"], container_pk=pk, port=port, grant=grant)
        return http1.response(302, "Found", [
            ("Location", "/"), ("Set-Cookie", self._cookie(value, tokens.COOKIE_SECONDS)),
            ("Referrer-Policy", "no-referrer"),
        ])

    def _cookie(self, value: str, max_age: int) -> str:
        secure = "; Secure" if settings.HTTPS else ""
        return f"{tokens.cookie_name()}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"

    def _cookie_grant(self, head, app) -> tuple[tuple[int, str] | None, bool]:
        """((user id, grant) of the first valid cookie of ours for this app,
        whether a cookie of ours that is not valid here came along)."""
        name, (pk, port) = tokens.cookie_name(), app
        values = [v for n, v in http1.cookie_pairs(head.get_all("cookie")) if n == name][:MAX_COOKIES_TRIED]
        for value in values:
            found = tokens.cookie_read(value, container_pk=pk, port=port)
            if found is not None:
                return found, False
        return None, bool(values)

    async def _may_open(self, user_id: int, grant: str, app, cached: bool = True) -> bool:
        key, now = (user_id, grant, *app), time.monotonic()
        hit = self.access.get(key)
        if cached and hit is not None and hit[1] > now:
            return hit[0]
        session_key = await self.redis.get(tokens.GRANT_KEY.format(grant))
        allowed = bool(session_key) and await database_sync_to_async(app_user_may_open)(
            user_id=user_id, session_key=session_key.decode(), container_pk=app[0], port=app[1],
            node_name=self.node_name)
        if len(self.access) > 10_000:
            self.access = {k: v for k, v in self.access.items() if v[1] > now}
        self.access[key] = (allowed, now + ACCESS_CACHE_SECONDS)
        return allowed

    def _to_dashboard(self, app, expire: bool) -> bytes:
        """To the dashboard's page for the app (a new token, the login, or a 404);
        a cookie of ours that did not pass is dropped so that it is not tried again."""
        headers = [("Location", origins.dashboard_app_url(container_pk=app[0], port=app[1]))]
        if expire:
            headers.append(("Set-Cookie", self._cookie("", 0)))
        return http1.response(302, "Found", headers)

    def _same_app_origin(self, head, app) -> bool:
        """A request a browser sent from a page (Origin) is let through only
        from the same container's apps: not from a sibling student's app,
        which shares the site and so the SameSite=Lax cookie, nor from elsewhere."""
        origin = head.get("origin")
        if origin is None:
            return True
        parts = urlsplit(origin)
        if parts.scheme != origins.apps_scheme() or not parts.netloc:
            return False
        other = origins.parse_app_host(parts.netloc, node_name=self.node_name)
        return other is not None and other[0] == app[0]

    # ---- to the app ----

    async def _address(self, pk: int) -> str | None:
        try:
            data = await asyncio.to_thread(self.runtime.inspect, f"c{pk}")
        except TerrariumError:
            return None
        return data["network"]["ip"] if data.get("status") == "running" else None

    async def _forward(self, reader, writer, head, method: str, framing, app) -> None:
        pk, port = app
        address = await self._address(pk)
        upstream = None
        if address is not None:
            try:
                upstream = await asyncio.wait_for(
                    asyncio.open_connection(address, port, limit=http1.HEAD_LIMIT), CONNECT_SECONDS)
            except (OSError, TimeoutError):
                upstream = None
        if upstream is None:
            writer.write(http1.response(502, "Bad Gateway", body=(
                "<p>The app does not answer: is the container running, and does it listen on port "
                f"{port}?</p>")))
            return
        app_reader, app_writer = upstream
        upgrade = method == "GET" and "websocket" in head.tokens("upgrade") and "upgrade" in head.tokens("connection")
        try:
            app_writer.write(self._upstream_head(head, writer, upgrade).encode())
            sending = asyncio.create_task(http1.copy_body(reader, app_writer, framing))
            try:
                await self._relay_response(app_reader, writer, upgrade, reader, app_writer)
            finally:
                sending.cancel()
                await asyncio.gather(sending, return_exceptions=True)
        finally:
            app_writer.close()

    def _upstream_head(self, head, writer, upgrade: bool) -> http1.Head:
        dropped = http1.HOP_BY_HOP | head.tokens("connection") | {
            "cookie", "forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}
        headers = [(n, v) for n, v in head.headers if n.lower() not in dropped]
        ours = tokens.cookie_name()
        kept = [f"{n}={v}" for n, v in http1.cookie_pairs(head.get_all("cookie")) if n != ours]
        if kept:
            headers.append(("Cookie", "; ".join(kept)))
        peer = writer.get_extra_info("peername")
        headers += [("X-Forwarded-For", peer[0] if peer else ""), ("X-Forwarded-Proto", origins.apps_scheme()),
                    ("X-Forwarded-Host", head.get("host"))]
        headers += [("Connection", "Upgrade"), ("Upgrade", "websocket")] if upgrade else [("Connection", "close")]
        return http1.Head(head.start, headers)

    async def _relay_response(self, app_reader, writer, upgrade: bool, reader, app_writer) -> None:
        while True:
            head = await http1.read_head(app_reader, UPSTREAM_HEAD_SECONDS, lenient=True)
            if head is None:
                raise http1.BadMessage("the app closed without answering")
            status = http1.status_code(head)
            switching = status == 101 and upgrade
            writer.write(self._client_head(head, keep_connection=switching).encode())
            await writer.drain()
            if switching:
                await _splice(reader, writer, app_reader, app_writer)
                return
            if status >= 200 or status == 101:
                break
        await http1.copy_until_eof(app_reader, writer)

    def _client_head(self, head, keep_connection: bool) -> http1.Head:
        headers = []
        for name, value in head.headers:
            lower = name.lower()
            if lower == "set-cookie":
                if _names_our_cookie(value):
                    continue
                value = _host_only(value)
            elif lower in ("connection", "upgrade") and keep_connection:
                pass
            elif lower in http1.HOP_BY_HOP:
                continue
            headers.append((name, value))
        if not keep_connection:
            headers.append(("Connection", "close"))
        return http1.Head(head.start, headers)


def _names_our_cookie(set_cookie: str) -> bool:
    """Whether an app's Set-Cookie is for the proxy's cookie name, with or without a prefix."""
    name = set_cookie.partition("=")[0].strip().lower()
    return name.removeprefix("__host-").removeprefix("__secure-") == tokens.COOKIE_BASE_NAME


def _host_only(set_cookie: str) -> str:
    """A Set-Cookie without its Domain attribute: the cookie stays on the
    app's own host instead of reaching its sibling apps (cookie tossing)."""
    first, *attributes = set_cookie.split(";")
    kept = [a for a in attributes if a.strip().partition("=")[0].strip().lower() != "domain"]
    return ";".join([first, *kept])


async def _splice(reader, writer, app_reader, app_writer) -> None:
    """Bytes both ways until either side ends."""
    tasks = [asyncio.create_task(http1.copy_until_eof(reader, app_writer)),
             asyncio.create_task(http1.copy_until_eof(app_reader, writer))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run(node_name: str) -> None:
    redis = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
    try:
        await AppProxy(node_name, Runtime(root=settings.TERRARIUM_ROOT), redis).serve()
    finally:
        await redis.aclose()
