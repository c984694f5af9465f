"""What the node agent (root) checks in the database before it acts on a
message from the channel layer. The web side's messages carry ids only, and
whoever reaches Redis may forge them: the container to join, its node and
who may type are read here, never taken from the message."""

from django.contrib.auth import get_user_model

from dashboard.accounts.roles import is_teacher
from dashboard.containers.models import Container
from dashboard.shell.models import ShellSession
from dashboard.shell.selectors import recordings_visible_to, shell_limit, shell_sessions_open_count


class Refused(Exception):
    """A message the agent will not act on; the text says why, for the log."""


def _user(user_id):
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise Refused(f"no active user {user_id!r}")
    return user


def shell_target(*, key, user_id, node_name: str, write: bool, opening: bool = False) -> str:
    """The runtime id of the container an open or attach of session `key` by
    `user_id` may use on this node; Refused otherwise. Only the session's
    own user writes; a teacher may watch."""
    session = (ShellSession.objects.filter(key=str(key), closed_at__isnull=True)
               .select_related("container__node").first())
    if session is None:
        raise Refused(f"no open shell session {key!r}")
    container = session.container
    if container.node is None or container.node.name != node_name:
        raise Refused(f"session {key} is for a container on another node")
    if not container.runtime_id:
        raise Refused(f"session {key}'s container has not started")
    user = _user(user_id)
    if session.user_id != user.pk and (write or not is_teacher(user)):
        raise Refused(f"user {user.pk} may not {'type in' if write else 'watch'} session {key}")
    if write and session.user_id != container.owner_id and not is_teacher(user):
        raise Refused(f"user {user.pk} no longer may use the container of session {key}")
    if opening and shell_sessions_open_count(user=user) > shell_limit(user=user):
        raise Refused(f"user {user.pk} has more shells open than they may")
    return container.runtime_id


def logs_target(*, ref, user_id, node_name: str) -> str:
    """The runtime's name for the container whose log `user_id` asked for (its
    id, or `c<pk>`), if it
    runs on this node and is theirs (or they teach); Refused otherwise."""
    ref = str(ref)
    by_name = ref[:1] == "c" and ref[1:].isdigit()
    found = Container.objects.filter(pk=int(ref[1:])) if by_name else Container.objects.filter(runtime_id=ref)
    container = found.filter(node__name=node_name).first() if ref else None
    if container is None:
        raise Refused(f"no container {ref!r} on this node")
    user = _user(user_id)
    if container.owner_id != user.pk and not is_teacher(user):
        raise Refused(f"user {user.pk} may not read the log of container {container.pk}")
    return container.runtime_id or container.runtime_name


def recording_target(*, recording_id, user_id, node_name: str) -> str:
    """The key (file name) of the recording `user_id` asked for, if they may
    see it and its file is on this node; Refused otherwise."""
    try:
        recording = recordings_visible_to(user=_user(user_id)).filter(pk=int(recording_id)).first()
    except (TypeError, ValueError):
        recording = None
    if recording is None or recording.node_name != node_name:
        raise Refused(f"no recording {recording_id!r} on this node for user {user_id!r}")
    return recording.key
