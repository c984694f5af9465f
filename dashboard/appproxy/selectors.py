"""Who may open a container's app: its owner, and the teachers (or
assistants) of a class the owner is enrolled in once the owner has let
teachers in (AppShare). Anyone else gets a 404, as for any object of
another user. The same rule serves the dashboard's view and the node
agent's proxy, which asks again for every new connection."""

from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user
from django.http import Http404

from dashboard.classes.selectors import classes_for_staff
from dashboard.containers.models import Container


def _teaches(user, student_id: int) -> bool:
    return classes_for_staff(user=user).filter(enrolments__student_id=student_id).exists()


def _may_open(user, container: Container, port: int) -> bool:
    if container.status != Container.Status.RUNNING or port not in container.app_ports:
        return False
    if container.owner_id == user.pk:
        return True
    share = getattr(container, "app_share", None)
    return bool(share and share.teachers) and _teaches(user, container.owner_id)


def _container(pk) -> Container | None:
    return Container.objects.select_related("node", "app_share").filter(pk=pk).first()


def app_container_for_user(*, user, container_pk: int, port: int) -> Container:
    """The running container whose `port` the user may open, or Http404."""
    container = _container(container_pk) if user.is_authenticated else None
    if container is None or container.node is None or not _may_open(user, container, port):
        raise Http404("No such app")
    return container


def app_user_may_open(*, user_id: int, session_key: str, container_pk: int, port: int, node_name: str) -> bool:
    """Whether dashboard session `session_key` is still user `user_id`'s
    (not logged out, expired or past a password change) and that user may
    open `port` of container `container_pk`, running on node `node_name`:
    the proxy's check."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    # get_user reads request.session alone, and checks the session's password hash.
    user = get_user(SimpleNamespace(session=store))
    container = _container(container_pk)
    if not user.is_authenticated or user.pk != user_id or not user.is_active:
        return False
    if container is None or container.node is None or container.node.name != node_name:
        return False
    return _may_open(user, container, port)


def app_share_teachers(*, container: Container) -> bool:
    share = getattr(container, "app_share", None)
    return bool(share and share.teachers)
