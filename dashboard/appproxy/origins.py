"""Each app's origin: `c<pk>-<port>.<domain>[:apps port]`, the domain
TERRARIUM_APPS_DOMAIN with `{node}` as the node's name. An origin per
container and port, never the dashboard's: a student's page cannot read
the dashboard's cookies or script its pages, nor another app's."""

import re

from django.conf import settings
from django.urls import reverse

AUTH_PATH = "/_terrarium/auth"
_LABEL = re.compile(r"c([1-9][0-9]{0,17})-([1-9][0-9]{0,4})")


def apps_domain(node_name: str) -> str:
    return settings.TERRARIUM_APPS_DOMAIN.replace("{node}", node_name).lower()


def apps_scheme() -> str:
    return "https" if settings.HTTPS else "http"


def app_host(*, container_pk: int, port: int, node_name: str) -> str:
    """The host (with the port, unless the scheme's own) browsers use for the app."""
    host = f"c{container_pk}-{port}.{apps_domain(node_name)}"
    if settings.TERRARIUM_APPS_PORT != {"http": 80, "https": 443}[apps_scheme()]:
        host += f":{settings.TERRARIUM_APPS_PORT}"
    return host


def app_origin(*, container_pk: int, port: int, node_name: str) -> str:
    return f"{apps_scheme()}://{app_host(container_pk=container_pk, port=port, node_name=node_name)}"


def parse_app_host(host: str, *, node_name: str) -> tuple[int, int] | None:
    """(container pk, port) named by a Host header of this node's apps, or None."""
    name, _, port_part = host.strip().lower().partition(":")
    if port_part and port_part != str(settings.TERRARIUM_APPS_PORT):
        return None
    label, dot, domain = name.partition(".")
    match = _LABEL.fullmatch(label)
    if not dot or domain != apps_domain(node_name) or match is None:
        return None
    pk, port = int(match[1]), int(match[2])
    return (pk, port) if port <= 65535 else None


def dashboard_app_url(*, container_pk: int, port: int) -> str:
    """The dashboard's page for an app: it sends the browser back with a new
    token, or to log in, or answers 404 to whoever may not open it."""
    return settings.TERRARIUM_DASHBOARD_URL + reverse("appproxy:open", args=[container_pk, port])
