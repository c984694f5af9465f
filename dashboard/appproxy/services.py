"""The app proxy's writes (the web half): the owner's share setting, and
the one-time link that carries a user from the dashboard to an app."""

from dashboard.appproxy import origins, tokens
from dashboard.appproxy.models import AppShare
from dashboard.classes.redis_client import client as redis_client
from dashboard.containers.models import Container


def app_share_set(*, container: Container, teachers: bool) -> AppShare:
    share, _ = AppShare.objects.update_or_create(container=container, defaults={"teachers": teachers})
    return share


def app_open_url(*, user, session_key: str, container: Container, port: int) -> str:
    """Where the browser goes to open the app: the proxy's auth path on the
    app's own origin, with a signed token that works once, within a minute.
    The token's nonce names the user's dashboard session in Redis."""
    nonce = tokens.new_secret()
    redis_client().set(tokens.NONCE_KEY.format(nonce), session_key, ex=tokens.NONCE_SECONDS)
    token = tokens.token_mint(user_id=user.pk, container_pk=container.pk, port=port, nonce=nonce)
    origin = origins.app_origin(container_pk=container.pk, port=port, node_name=container.node.name)
    return f"{origin}{origins.AUTH_PATH}?token={token}"

