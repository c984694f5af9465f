"""Reads of images through the viewer's permissions: a student sees their own
images and the ones shared with them (or with everyone); a teacher sees all."""

from django.db.models import BooleanField, Case, Q, Value, When
from django.http import Http404

from dashboard.accounts.roles import is_teacher
from dashboard.images.models import Image


def images_visible_to(*, user):
    qs = Image.objects.select_related("owner", "node").prefetch_related("shared_with")
    if not user.is_authenticated:
        return qs.none()
    if is_teacher(user):
        return qs
    shared = Q(owner=user) | Q(visibility=Image.Visibility.SHARED) | Q(shared_with=user)
    return qs.filter(shared).distinct()


def images_launchable_by(*, user):
    """Ready images, the user's own first: choices are by id, and image_choice_label
    names another owner's image with its owner, so none can stand in for another."""
    own = Case(When(owner=user, then=Value(True)), default=Value(False), output_field=BooleanField())
    ready = images_visible_to(user=user).filter(status=Image.Status.READY)
    return ready.annotate(own=own).order_by("-own", "name", "owner__username")


def image_owned_apart(*, image: Image, user) -> str:
    """How a list shows whose an image is: "" for the user's own, else "shared by <owner>"
    (shared with everyone or with the user) or "owned by <owner>" (a teacher's view)."""
    if image.owner_id == user.id:
        return ""
    shared = image.visibility == Image.Visibility.SHARED or any(u.pk == user.pk for u in image.shared_with.all())
    return f"{'shared' if shared else 'owned'} by {image.owner.username}"


def images_listed_for(*, user) -> tuple[list[Image], list[Image]]:
    """The user's own images, and the others they see, each with `.apart` (image_owned_apart)."""
    own, others = [], []
    for image in images_visible_to(user=user).order_by("name", "owner__username"):
        image.apart = image_owned_apart(image=image, user=user)
        (others if image.apart else own).append(image)
    return own, others


def image_choice_label(*, image: Image, user) -> str:
    apart = image_owned_apart(image=image, user=user)
    return f"{image.name} ({apart})" if apart else image.name


def image_get_visible(*, user, image_id) -> Image:
    """An image the user may see (and so download), or Http404."""
    try:
        return images_visible_to(user=user).get(pk=int(image_id))
    except (Image.DoesNotExist, ValueError, TypeError):
        raise Http404("No such image") from None


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
