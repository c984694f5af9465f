"""Image imports, the web half. The web process streams an upload into
UPLOAD_DIR and records a pending Image naming it; the worker of the image's
node imports it into the runtime's store (node.py, which re-checks everything).
The upload is kept as the image's source so another node can import it the
first time a container there needs it."""

import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.template.defaultfilters import filesizeformat
from django.utils.text import slugify

from dashboard.accounts.roles import is_teacher
from dashboard.accounts.selectors import quota_for
from dashboard.images import export_stream
from dashboard.images.models import Image
from dashboard.images.tasks import image_commit as image_commit_task, image_export, image_import, image_remove
from dashboard.nodes.selectors import node_pick_for_launch


def image_store_name(name: str) -> str:
    return f"{slugify(name)[:60] or 'image'}-{secrets.token_hex(4)}"


def _check_quota(*, owner, upload_bytes: int) -> None:
    quota = quota_for(user=owner)
    if quota is None:
        return
    # Locks the owner's row, so two uploads at once cannot both take the last place.
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    held = Image.objects.filter(owner=owner).exclude(status=Image.Status.FAILED)
    if held.count() >= quota.max_images:
        raise ValidationError(f"Image quota reached: you may keep at most {quota.max_images} images.")
    sizes = held.aggregate(files=Sum("size_bytes"), uploads=Sum("upload_bytes"))
    used = (sizes["files"] or 0) + (sizes["uploads"] or 0)
    if used + upload_bytes > quota.max_image_bytes:
        raise ValidationError(
            f"Image quota exceeded: your images may take {filesizeformat(quota.max_image_bytes)}; "
            f"they take {filesizeformat(used)} and this upload is {filesizeformat(upload_bytes)}."
        )


@transaction.atomic
def image_create(
    *, owner, name: str, upload_name: str, upload_bytes: int, visibility: str = Image.Visibility.PRIVATE
) -> Image:
    """Record an uploaded tarball (upload_name in UPLOAD_DIR) and queue its import on a live
    node. On ValidationError the caller still owns the upload and removes it."""
    if Image.objects.filter(owner=owner, name=name).exists():
        raise ValidationError({"name": f"An image named {name} already exists."})
    _check_quota(owner=owner, upload_bytes=upload_bytes)
    node = node_pick_for_launch()
    if node is None:
        raise ValidationError("No node is registered yet: start a runtime worker first.")
    try:
        with transaction.atomic():
            image = Image.objects.create(
                owner=owner, name=name, visibility=visibility, node=node, upload_name=upload_name,
                upload_bytes=upload_bytes, store_name=image_store_name(name),
            )
    except IntegrityError:
        # Another upload of the same name by the same owner won the race since the check above.
        raise ValidationError({"name": f"An image named {name} already exists."}) from None
    transaction.on_commit(lambda: image_import.apply_async(args=[image.id], queue=node.queue))
    return image


@transaction.atomic
def image_delete(*, image: Image) -> None:
    """Forget an image no container uses. With a node, the row stays `deleting`
    until that node's worker has removed the files."""
    derived = sorted(image.derived.values_list("name", flat=True))
    if derived:
        raise ValidationError(f"Image {image.name} is the base of image {', '.join(derived)}: delete that first.")
    if image.containers.exclude(status="deleted").exists():
        raise ValidationError(f"Image {image.name} is used by containers: delete them first.")
    image.containers.all().delete()
    if image.node is None:
        image.delete()
        return
    Image.objects.filter(id=image.id).update(status=Image.Status.DELETING, error="")
    queue = image.node.queue
    transaction.on_commit(lambda: image_remove.apply_async(args=[image.id], queue=queue))


# A container whose writable layer is on its node: running, paused or stopped.
COMMITTABLE = ("running", "paused", "exited")


@transaction.atomic
def image_commit(*, container, name: str, user) -> Image:
    """Queue saving container (the user's own, or any for a teacher) as the
    user's image `name`, on the container's node; counted in the user's image quota."""
    if container.owner_id != user.id and not is_teacher(user):
        raise ValidationError("Only the container's owner or a teacher may save it as an image.")
    if container.status not in COMMITTABLE or container.node is None:
        raise ValidationError(f"Container {container.name} is {container.status}: only a running, paused or "
                              "stopped container can be saved as an image.")
    if Image.objects.filter(owner=user, name=name).exists():
        raise ValidationError({"name": f"An image named {name} already exists."})
    _check_quota(owner=user, upload_bytes=0)
    try:
        with transaction.atomic():
            image = Image.objects.create(
                owner=user, name=name, node=container.node, base=container.image, format="commit",
                store_name=image_store_name(name),
            )
    except IntegrityError:
        raise ValidationError({"name": f"An image named {name} already exists."}) from None
    queue, container_id = container.node.queue, container.id
    transaction.on_commit(lambda: image_commit_task.apply_async(args=[image.id, container_id], queue=queue))
    return image


def image_export_open(*, image: Image) -> tuple[bytes, object]:
    """Ask the image's node for its docker save archive: (the first bytes,
    an iterator of the rest). Raises ValidationError if it cannot be had."""
    if image.status != Image.Status.READY or image.node is None:
        raise ValidationError(f"Image {image.name} is {image.status}: only a ready image can be downloaded.")
    key = export_stream.new_key()
    image_export.apply_async(args=[image.id, key], queue=image.node.queue)
    try:
        return export_stream.receive(key)
    except export_stream.ExportFailed as exc:
        raise ValidationError(f"Image {image.name} cannot be downloaded: {exc}") from None
