"""Writes of shell sessions: the audit log rows opened by the web side and
closed by the node agent."""

import secrets

from django.utils import timezone

from dashboard.shell.models import ShellSession


def shell_session_open(*, container, user) -> ShellSession:
    return ShellSession.objects.create(key=secrets.token_urlsafe(18), container=container, user=user)


def shell_session_close(*, key: str, exit_code: int | None) -> None:
    ShellSession.objects.filter(key=key, closed_at__isnull=True).update(closed_at=timezone.now(), exit_code=exit_code)


def shell_sessions_close_orphans(*, node_name: str) -> int:
    """Sessions the agent of this node held before it restarted: their PTYs
    died with it."""
    return ShellSession.objects.filter(container__node__name=node_name, closed_at__isnull=True).update(
        closed_at=timezone.now()
    )
