"""Image imports. The web process streams an upload into UPLOAD_DIR and records
a pending Image; the worker of the image's node imports it into the runtime's
store. The upload is kept as the image's source so another node can import it
the first time a container there needs it."""

import secrets
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from dashboard.images.models import Image
from dashboard.nodes.selectors import node_pick_for_launch


def _store():
    from runtime.imagestore import ImageStore

    return ImageStore(root=settings.TERRARIUM_ROOT)


def _store_name(name: str) -> str:
    return f"{slugify(name)[:60] or 'image'}-{secrets.token_hex(4)}"


@transaction.atomic
def image_create(*, owner, name: str, upload_path: str, visibility: str = Image.Visibility.PRIVATE) -> Image:
    """Record an uploaded tarball and queue its import on a live node."""
    from dashboard.images.tasks import image_import

    if Image.objects.filter(name=name).exists():
        Path(upload_path).unlink(missing_ok=True)
        raise ValidationError({"name": f"An image named {name} already exists."})
    node = node_pick_for_launch()
    if node is None:
        Path(upload_path).unlink(missing_ok=True)
        raise ValidationError("No node is registered yet: start a runtime worker first.")
    image = Image.objects.create(
        owner=owner, name=name, visibility=visibility, node=node, upload_path=upload_path, store_name=_store_name(name)
    )
    transaction.on_commit(lambda: image_import.apply_async(args=[image.id], queue=node.queue))
    return image


def image_fields_from(info) -> dict:
    """What an Image row mirrors of the runtime's ImageInfo."""
    return {
        "runtime_id": info.id,
        "format": info.format,
        "size_bytes": info.size_bytes,
        "file_count": info.file_count,
        "sha256": info.sha256,
        "defaults": info.defaults,
    }


def image_import_on_node(*, image_id: int) -> None:
    from runtime.errors import TerrariumError

    if not Image.objects.filter(id=image_id, status=Image.Status.PENDING).update(status=Image.Status.IMPORTING):
        return
    image = Image.objects.get(id=image_id)
    try:
        info = _store().import_archive(image.upload_path, name=image.store_name)
    except (TerrariumError, OSError) as exc:
        Path(image.upload_path).unlink(missing_ok=True)
        Image.objects.filter(id=image_id).update(status=Image.Status.FAILED, error=str(exc)[:2000], upload_path="")
        return
    Image.objects.filter(id=image_id, status=Image.Status.IMPORTING).update(
        status=Image.Status.READY,
        **image_fields_from(info),
    )


def image_ensure_in_store(*, image: Image) -> None:
    """Import the image on this node from its kept upload if this node lacks it."""
    from runtime.errors import ImportFailed, NotFound

    store = _store()
    try:
        store.get(image.store_name)
    except NotFound:
        if not image.upload_path or not Path(image.upload_path).exists():
            raise ImportFailed(f"image {image.name} is not on this node and its upload is gone") from None
        store.import_archive(image.upload_path, name=image.store_name)


@transaction.atomic
def image_delete(*, image: Image) -> None:
    """Forget an image no container uses; the node's worker removes its files."""
    from dashboard.images.tasks import image_remove

    if image.containers.exclude(status="deleted").exists():
        raise ValidationError(f"Image {image.name} is used by containers: delete them first.")
    node_queue, store_name, upload = image.node.queue if image.node else None, image.store_name, image.upload_path
    image.containers.all().delete()
    image.delete()
    if node_queue:
        transaction.on_commit(lambda: image_remove.apply_async(args=[store_name, upload], queue=node_queue))


def image_remove_on_node(*, store_name: str, upload_path: str) -> None:
    from runtime.errors import NotFound

    try:
        _store().remove(store_name)
    except NotFound:
        pass
    if upload_path:
        Path(upload_path).unlink(missing_ok=True)
