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

from dashboard.accounts.selectors import quota_for
from dashboard.images.models import Image
from dashboard.images.tasks import image_import, image_remove
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
    if image.containers.exclude(status="deleted").exists():
        raise ValidationError(f"Image {image.name} is used by containers: delete them first.")
    image.containers.all().delete()
    if image.node is None:
        image.delete()
        return
    Image.objects.filter(id=image.id).update(status=Image.Status.DELETING, error="")
    queue = image.node.queue
    transaction.on_commit(lambda: image_remove.apply_async(args=[image.id], queue=queue))
