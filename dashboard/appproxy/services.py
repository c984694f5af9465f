"""The app proxy's writes (the web half): the owner's share setting, and
the one-time link that carries a user from the dashboard to an app."""

from dashboard.appproxy import origins, tokens
from dashboard.appproxy.models import AppShare
from dashboard.containers.models import Container


def app_share_set(*, container: Container, teachers: bool) -> AppShare:
    share, _ = AppShare.objects.update_or_create(container=container, defaults={"teachers": teachers})
    return share


def app_open_url(*, user, container: Container, port: int) -> str:
    """Where the browser goes to open the app: the proxy's auth path on the
    app's own origin, with a signed token that works once, within a minute."""
    token = tokens.token_mint(user_id=user.pk, container_pk=container.pk, port=port)
    origin = origins.app_origin(container_pk=container.pk, port=port, node_name=container.node.name)
    return f"{origin}{origins.AUTH_PATH}?token={token}"

