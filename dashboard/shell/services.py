"""Writes of shell sessions: the audit log rows opened by the web side and
closed by the node agent."""

import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dashboard.labs.models import LabInstance
from dashboard.shell.models import Recording, ShellSession
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


@transaction.atomic
def recording_begin(*, key: str, node_name: str, started_at) -> Recording | None:
    """The row of session `key`'s recording (its container is a lab
    instance's; None if it is not). The instance keeps its newest
    settings.RECORDINGS_PER_INSTANCE: older rows go, and their files with
    them (dashboard.shell.recording_signals)."""
    session = ShellSession.objects.filter(key=key).first()
    instance = session and LabInstance.objects.filter(container_id=session.container_id).first()
    if instance is None:
        return None
    recording = Recording.objects.create(key=key, instance=instance, user_id=session.user_id, node_name=node_name,
                                         started_at=started_at)
    kept = instance.recordings.order_by("-started_at", "-pk").values_list("pk", flat=True)[
        : settings.RECORDINGS_PER_INSTANCE]
    for old in instance.recordings.exclude(pk__in=list(kept)):
        old.delete()
    return recording


def recording_end(*, key: str, size_bytes: int, capped: bool) -> None:
    Recording.objects.filter(key=key).update(ended_at=timezone.now(), size_bytes=size_bytes, capped=capped)


def recordings_end_left_open(*, ends: dict) -> None:
    """Recordings a previous run of the node agent left open: key -> (when its file was last written, its size)."""
    for key, (ended_at, size_bytes) in ends.items():
        Recording.objects.filter(key=key, ended_at__isnull=True).update(ended_at=ended_at, size_bytes=size_bytes)
