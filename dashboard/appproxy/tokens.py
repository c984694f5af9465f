"""The two signed values of the app proxy, each with a salt of its own so
that neither (nor any other signed value of the dashboard) passes as the
other: the one-time token the dashboard hands the browser on its way to
an app, and the proxy's cookie on the app's origin.

Neither carries the dashboard's session key, which stays in Redis: the
token's nonce names it (NONCE_KEY, written by the dashboard, taken once by
the proxy) and the cookie's grant names it (GRANT_KEY, written by the
proxy), so that a logout or a password change closes the app too."""

import secrets

from django.conf import settings
from django.core import signing

TOKEN_SALT = "terrarium.appproxy.token"
TOKEN_SECONDS = 60
COOKIE_SALT = "terrarium.appproxy.cookie"
COOKIE_SECONDS = 8 * 3600
NONCE_SECONDS = TOKEN_SECONDS
NONCE_KEY = "terrarium:appproxy:nonce:{}"
GRANT_KEY = "terrarium:appproxy:grant:{}"


COOKIE_BASE_NAME = "terrarium_app"


def cookie_name() -> str:
    # Over HTTPS the __Host- prefix makes browsers refuse the name from a
    # sibling host or with a Domain: no app can toss one at another.
    return f"__Host-{COOKIE_BASE_NAME}" if settings.HTTPS else COOKIE_BASE_NAME


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def token_mint(*, user_id: int, container_pk: int, port: int, nonce: str) -> str:
    return signing.dumps({"u": user_id, "c": container_pk, "p": port, "n": nonce}, salt=TOKEN_SALT)


def token_read(token: str, *, container_pk: int, port: int) -> dict | None:
    """The token's payload if it is ours, young enough and for this app; else None."""
    try:
        payload = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or (payload.get("c"), payload.get("p")) != (container_pk, port):
        return None
    if not isinstance(payload.get("u"), int) or not isinstance(payload.get("n"), str):
        return None
    return payload


def cookie_value(*, user_id: int, container_pk: int, port: int, grant: str) -> str:
    return signing.dumps({"u": user_id, "c": container_pk, "p": port, "g": grant}, salt=COOKIE_SALT)


def cookie_read(value: str, *, container_pk: int, port: int) -> tuple[int, str] | None:
    """(user id, grant) of a cookie of ours for this app; None if it is not
    ours, expired, or made for another container or port."""
    try:
        payload = signing.loads(value, salt=COOKIE_SALT, max_age=COOKIE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or (payload.get("c"), payload.get("p")) != (container_pk, port):
        return None
    if not isinstance(payload.get("u"), int) or not isinstance(payload.get("g"), str):
        return None
    return payload["u"], payload["g"]
