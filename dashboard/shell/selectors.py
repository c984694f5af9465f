"""Reads for shells: who may open or watch which session, the audit log,
and a container's log file, which lives on its node."""

import asyncio
from dataclasses import dataclass

from channels.layers import get_channel_layer

from django.core.exceptions import PermissionDenied
from django.http import Http404

from django.conf import settings

from dashboard.accounts.roles import is_teacher
from dashboard.accounts.selectors import quota_for
from dashboard.containers.models import Container
from dashboard.containers.selectors import container_get_for_user
from dashboard.shell.models import ShellSession
from dashboard.shell.wire import AGENT_REPLY_SECONDS, LAYER, node_channel


class ShellUnavailable(Exception):
    """The user may use the container, but it has no running process to join."""


@dataclass(frozen=True)
class ShellAccess:
    container: Container
    session: ShellSession | None
    readonly: bool

    @property
    def agent_channel(self) -> str:
        return node_channel(self.container.node.name)

    @property
    def runtime_ref(self) -> str:
        return self.container.runtime_id or self.container.runtime_name


def shell_access(*, user, container_id, session_key: str | None = None) -> ShellAccess:
    """What `user` may do with a new shell (no key) or an existing session:
    the session's own user types in it, teachers watch it read-only.
    Raises PermissionDenied, Http404 or ShellUnavailable."""
    if not user.is_authenticated:
        raise PermissionDenied
    container = container_get_for_user(user=user, container_id=container_id)
    if session_key is None:
        if not container.can("shell") or container.node is None:
            raise ShellUnavailable(f"container is {container.status}")
        return ShellAccess(container=container, session=None, readonly=False)
    session = ShellSession.objects.filter(key=session_key, container=container).select_related("user").first()
    if session is None:
        raise Http404("No such shell session")
    if session.user_id == user.pk:
        return ShellAccess(container=container, session=session, readonly=False)
    if is_teacher(user):
        return ShellAccess(container=container, session=session, readonly=True)
    raise PermissionDenied


def shell_limit(*, user) -> int:
    """How many shells the user may have open at once."""
    quota = quota_for(user=user)
    return quota.max_shells if quota is not None else settings.SHELL_MAX_PER_USER


def shell_sessions_open_count(*, user) -> int:
    return ShellSession.objects.filter(user=user, closed_at__isnull=True).count()


def shell_session_exit_code(*, key: str) -> int | None:
    return ShellSession.objects.filter(key=key).values_list("exit_code", flat=True).first()


def logs_access(*, user, container_id) -> ShellAccess:
    if not user.is_authenticated:
        raise PermissionDenied
    container = container_get_for_user(user=user, container_id=container_id)
    if container.node is None:
        raise ShellUnavailable("container has no node")
    return ShellAccess(container=container, session=None, readonly=True)


def shell_sessions_for_audit(*, user, limit: int = 200):
    if not is_teacher(user):
        raise PermissionDenied
    return ShellSession.objects.select_related("user", "container", "container__owner")[:limit]


async def logs_stream(*, access: ShellAccess, user):
    """The container's whole log as byte chunks, read by the node agent (which checks user again)."""
    layer = get_channel_layer(LAYER)
    reply = await layer.new_channel("logs-dump.")
    await layer.send(access.agent_channel, {"type": "logs.dump", "container": access.runtime_ref, "reply": reply, "user": user.pk})
    while True:
        try:
            message = await asyncio.wait_for(layer.receive(reply), AGENT_REPLY_SECONDS)
        except TimeoutError:
            return
        if message["type"] == "logs.end":
            return
        yield message["data"]
