"""Reads for shells: who may open or watch which session, the audit log,
and a container's log file, which lives on its node."""

import asyncio
from dataclasses import dataclass

from channels.layers import get_channel_layer

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse

from django.conf import settings

from django.db.models import Exists, OuterRef, Q

from dashboard.accounts.roles import is_admin, is_teacher
from dashboard.accounts.selectors import quota_for
from dashboard.classes.models import Class
from dashboard.containers.models import Container
from dashboard.containers.selectors import container_get_for_user
from dashboard.labs.models import CheckRun, LabInstance
from dashboard.labs.selectors import suspended_instance
from dashboard.shell.models import Recording, ShellSession
from dashboard.shell.wire import AGENT_REPLY_SECONDS, LAYER, node_channel


class ShellUnavailable(Exception):
    """The user may use the container, but it has no running process to join."""


@dataclass(frozen=True)
class ShellAccess:
    container: Container
    session: ShellSession | None
    readonly: bool
    # The user's own lab instance, suspended while idle: their shell resumes it first.
    suspended: bool = False

    @property
    def agent_channel(self) -> str:
        return node_channel(self.container.node.name)

    @property
    def runtime_ref(self) -> str:
        return self.container.runtime_id or self.container.runtime_name


def shell_access(*, user, container_id, session_key: str | None = None) -> ShellAccess:
    """What `user` may do with a new shell (no key) or an existing session:
    the session's own user types in it, teachers watch it read-only. A
    student's own suspended lab instance counts as running: their shell
    resumes it (`suspended`). Raises PermissionDenied, Http404 or ShellUnavailable."""
    if not user.is_authenticated:
        raise PermissionDenied
    container = container_get_for_user(user=user, container_id=container_id)
    suspended = suspended_instance(container=container, student=user) is not None
    if session_key is None:
        if not (container.can("shell") or suspended) or container.node is None:
            raise ShellUnavailable(f"container is {container.status}")
        return ShellAccess(container=container, session=None, readonly=False, suspended=suspended)
    session = ShellSession.objects.filter(key=session_key, container=container).select_related("user").first()
    if session is None:
        raise Http404("No such shell session")
    if session.user_id == user.pk:
        return ShellAccess(container=container, session=session, readonly=False, suspended=suspended)
    if is_teacher(user):
        return ShellAccess(container=container, session=session, readonly=True)
    raise PermissionDenied


def shell_sessions_to_watch(*, user, container) -> list[ShellSession]:
    """The open shells of `container`'s owner that `user` may watch read-only
    (teachers, as shell_access says), newest first."""
    if container is None or not is_teacher(user) or user.pk == container.owner_id:
        return []
    return list(ShellSession.objects.filter(container=container, user_id=container.owner_id, closed_at__isnull=True))


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


def recording_title(*, key: str) -> str | None:
    """The title of session `key`'s recording when its container is a lab
    instance's (only those are recorded), else None."""
    session = ShellSession.objects.filter(key=key).first()
    instance = session and LabInstance.objects.select_related("lab", "student").filter(
        container_id=session.container_id).first()
    return instance and f"{instance.lab.title} · {instance.student.username}"


def recording_ends_on_node(*, node_name: str) -> dict:
    """key -> ended_at (None: still open) of the recordings kept on this node."""
    return dict(Recording.objects.filter(node_name=node_name).values_list("key", "ended_at"))


def recording_exists(*, key: str) -> bool:
    return Recording.objects.filter(key=key).exists()


def recordings_visible_to(*, user):
    """Recordings of the instances whose lab `user` owns, or of students in a
    class they teach or assist in (an admin: all). Never a student's own or
    another's: recordings are the teacher's side."""
    qs = Recording.objects.select_related("instance__lab", "instance__student", "user")
    if not user.is_authenticated:
        return qs.none()
    if is_admin(user):
        return qs
    staff = Class.objects.filter(Q(owner=user) | Q(assistants=user), lab_id=OuterRef("instance__lab_id"),
                                 enrolments__student_id=OuterRef("instance__student_id"))
    return qs.filter(Q(instance__lab__owner=user) | Exists(staff))


def recording_get_for_user(*, user, recording_id) -> Recording:
    try:
        return recordings_visible_to(user=user).get(pk=int(recording_id))
    except (Recording.DoesNotExist, ValueError, TypeError):
        raise Http404("No such recording") from None


def recording_of_check(*, user, run_id) -> tuple[Recording, float]:
    """The recording of the check run's instance that was going on when the
    check started, and the check's second in it; Http404 when none was."""
    run = CheckRun.objects.filter(pk=run_id).only("instance_id", "started_at").first()
    if run is None or run.started_at is None:
        raise Http404("No such check run")
    recording = (recordings_visible_to(user=user).filter(instance_id=run.instance_id, started_at__lte=run.started_at)
                 .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=run.started_at)).order_by("-started_at").first())
    if recording is None:
        raise Http404("No recording of that moment")
    return recording, (run.started_at - recording.started_at).total_seconds()


def check_recording_url(*, run) -> str | None:
    """Where the check run's moment in a recording opens, when a shell of its
    instance was being recorded as it started (the page checks who asks)."""
    if run.started_at is None or not Recording.objects.filter(
            Q(ended_at__isnull=True) | Q(ended_at__gte=run.started_at), instance_id=run.instance_id,
            started_at__lte=run.started_at).exists():
        return None
    return reverse("shell:check_recording", args=[run.pk])


def _checks_during(recording: Recording, runs) -> list[dict]:
    end = recording.ended_at
    return [{"run": run, "at": (run.started_at - recording.started_at).total_seconds()} for run in runs
            if recording.started_at <= run.started_at and (end is None or run.started_at <= end)]


def recording_check_runs(*, recording: Recording) -> list[dict]:
    """The instance's checks that started during the recording, with their second in it."""
    runs = CheckRun.objects.filter(instance_id=recording.instance_id, started_at__isnull=False).order_by("started_at")
    return _checks_during(recording, runs)


def _with_checks(recordings: list[Recording]) -> list[Recording]:
    """Each recording with .checks, the checks run during it (one query for all)."""
    runs = {}
    for run in CheckRun.objects.filter(instance_id__in={r.instance_id for r in recordings},
                                       started_at__isnull=False).order_by("started_at"):
        runs.setdefault(run.instance_id, []).append(run)
    for recording in recordings:
        recording.checks = _checks_during(recording, runs.get(recording.instance_id, []))
    return recordings


def class_recordings(*, klass) -> list[dict]:
    """Per enrolled student of the class (for its staff): their instance's
    recordings, newest first, each with the checks that ran during it."""
    by_student = {}
    for recording in _with_checks(list(Recording.objects.filter(
            instance__lab_id=klass.lab_id, instance__student__enrolments__klass=klass).select_related("instance"))):
        by_student.setdefault(recording.instance.student_id, []).append(recording)
    return [{"student": enrolment.student, "recordings": by_student.get(enrolment.student_id, [])}
            for enrolment in klass.enrolments.select_related("student")]


def instance_recordings(*, user, instance) -> list[Recording]:
    """The instance's recordings `user` may see (none for its student), with their checks."""
    return _with_checks(list(recordings_visible_to(user=user).filter(instance=instance)))


async def recording_stream(*, recording: Recording, user):
    """The recording's file from the node that holds it (whose agent checks
    `user` again), as byte chunks. It ends early where the node does not
    answer or refuses, or where a chunk went missing on the way."""
    layer = get_channel_layer(LAYER)
    reply = await layer.new_channel("recording-dump.")
    await layer.send(node_channel(recording.node_name),
                     {"type": "recording.dump", "recording": recording.pk, "reply": reply, "user": user.pk})
    offset = 0
    while True:
        try:
            message = await asyncio.wait_for(layer.receive(reply), AGENT_REPLY_SECONDS)
        except TimeoutError:
            return
        if message["type"] != "recording.chunk" or message["offset"] != offset:
            return
        yield message["data"]
        offset += len(message["data"])
