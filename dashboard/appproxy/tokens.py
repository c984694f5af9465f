"""The two signed values of the app proxy, each with a salt of its own so
that neither (nor any other signed value of the dashboard) passes as the
other: the one-time token the dashboard hands the browser on its way to
an app, and the proxy's cookie on the app's origin."""

import secrets

from django.conf import settings
from django.core import signing

TOKEN_SALT = "terrarium.appproxy.token"
TOKEN_SECONDS = 60
COOKIE_SALT = "terrarium.appproxy.cookie"
COOKIE_SECONDS = 8 * 3600
# Long enough to outlive the token's age: a used nonce stays burnt as long as its token could pass.
NONCE_SECONDS = 2 * TOKEN_SECONDS
NONCE_KEY = "terrarium:appproxy:nonce:{}"


def cookie_name() -> str:
    # Over HTTPS the __Host- prefix makes browsers refuse the name from a
    # sibling host or with a Domain: no app can toss one at another.
    return "__Host-terrarium_app" if settings.HTTPS else "terrarium_app"


def token_mint(*, user_id: int, container_pk: int, port: int) -> str:
    payload = {"u": user_id, "c": container_pk, "p": port, "n": secrets.token_urlsafe(16)}
    return signing.dumps(payload, salt=TOKEN_SALT)


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


def cookie_value(*, user_id: int, container_pk: int, port: int) -> str:
    return signing.dumps({"u": user_id, "c": container_pk, "p": port}, salt=COOKIE_SALT)


def cookie_user(value: str, *, container_pk: int, port: int) -> int | None:
    """The user id a cookie of ours carries for this app; None if it is not ours,
    expired, or made for another container or port."""
    try:
        payload = signing.loads(value, salt=COOKIE_SALT, max_age=COOKIE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or (payload.get("c"), payload.get("p")) != (container_pk, port):
        return None
    return payload["u"] if isinstance(payload.get("u"), int) else None
