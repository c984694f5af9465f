"""Reads of containers, always through the viewer's permissions: a student
sees only their own containers, a teacher or admin sees all of them."""

from django.http import Http404

from dashboard.accounts.roles import is_teacher
from dashboard.containers.models import Container


def containers_visible_to(*, user):
    qs = Container.objects.select_related("image", "node", "owner")
    if not user.is_authenticated:
        return qs.none()
    return qs if is_teacher(user) else qs.filter(owner=user)


def container_get_for_user(*, user, container_id) -> Container:
    """The container, or Http404 when it does not exist or is not the user's to see."""
    try:
        return containers_visible_to(user=user).get(pk=int(container_id))
    except (Container.DoesNotExist, ValueError, TypeError):
        raise Http404("No such container") from None
