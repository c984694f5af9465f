"""Reads of images through the viewer's permissions: a student sees their own
images and the ones shared with them (or with everyone); a teacher sees all."""

from django.db.models import Q
from django.http import Http404

from dashboard.accounts.roles import is_teacher
from dashboard.images.models import Image


def images_visible_to(*, user):
    qs = Image.objects.select_related("owner", "node")
    if not user.is_authenticated:
        return qs.none()
    if is_teacher(user):
        return qs
    shared = Q(owner=user) | Q(visibility=Image.Visibility.SHARED) | Q(shared_with=user)
    return qs.filter(shared).distinct()


def images_launchable_by(*, user):
    return images_visible_to(user=user).filter(status=Image.Status.READY)


def image_get_manageable(*, user, image_id) -> Image:
    """An image the user may change (its owner, a teacher), or Http404."""
    qs = images_visible_to(user=user)
    if not is_teacher(user):
        qs = qs.filter(owner=user)
    try:
        return qs.get(pk=int(image_id))
    except (Image.DoesNotExist, ValueError, TypeError):
        raise Http404("No such image") from None


def image_statuses(*, user) -> list[dict]:
    rows = images_visible_to(user=user).values("id", "status", "error", "size_bytes", "file_count", "format")
    return list(rows)
