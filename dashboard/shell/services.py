"""Writes of shell sessions: the audit log rows opened by the web side and
closed by the node agent."""

import secrets

from django.utils import timezone

from dashboard.shell.models import ShellSession
from dashboard.shell.selectors import shell_limit, shell_sessions_open_count


class ShellLimitReached(Exception):
    """The user has as many shells open as they may."""


def shell_session_open(*, container, user) -> ShellSession:
    limit = shell_limit(user=user)
    if shell_sessions_open_count(user=user) >= limit:
        raise ShellLimitReached(f"You have {limit} shells open, the most you may: close one first.")
    return ShellSession.objects.create(key=secrets.token_urlsafe(18), container=container, user=user)


def shell_session_close(*, key: str, exit_code: int | None) -> None:
    ShellSession.objects.filter(key=key, closed_at__isnull=True).update(closed_at=timezone.now(), exit_code=exit_code)


def shell_sessions_close_orphans(*, node_name: str, before) -> int:
    """Sessions the agent of this node held before it restarted (opened
    before `before`): their PTYs died with it. One opened within the web
    side's wait for an answer may still be asking this agent to open it."""
    return ShellSession.objects.filter(
        container__node__name=node_name, closed_at__isnull=True, opened_at__lt=before
    ).update(closed_at=timezone.now())
