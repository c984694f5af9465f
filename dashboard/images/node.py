"""The root worker's half of images. It is handed image ids only and re-reads
each row, trusting nothing the web side wrote in it: the store name must match
STORE_NAME, and an upload is a bare name that upload_open resolves
inside UPLOAD_DIR itself (upload_files.py). A row naming anything else is refused, logged, and
left failed; nothing outside UPLOAD_DIR and the runtime's store is opened or
removed."""

import logging
import re

from django.conf import settings
from django.db.models import Sum

from dashboard.accounts.roles import is_teacher
from dashboard.accounts.selectors import quota_for
from dashboard.containers.models import Container
from dashboard.images import export_stream
from dashboard.images.models import Image
from dashboard.images.upload_files import UploadRefused, upload_open, upload_remove
from runtime import ImageStore, ImportFailed, NotFound, Runtime, TerrariumError, export_image

logger = logging.getLogger(__name__)

# What services.image_store_name makes (and the fixed names tests and benches use): no '/', '.' or ':'.
STORE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,119}")


def _store() -> ImageStore:
    return ImageStore(root=settings.TERRARIUM_ROOT)


def _checked_store_name(image: Image) -> str:
    if not STORE_NAME.fullmatch(image.store_name):
        raise UploadRefused(f"store name {image.store_name!r} is not one the dashboard makes")
    return image.store_name


def _refuse(image_id: int, exc: UploadRefused) -> None:
    logger.warning("image %s refused: %s", image_id, exc)
    Image.objects.filter(id=image_id).update(status=Image.Status.FAILED, error=f"Refused: {exc}.")


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
    if not Image.objects.filter(id=image_id, status=Image.Status.PENDING).update(status=Image.Status.IMPORTING):
        return
    image = Image.objects.get(id=image_id)
    try:
        store_name = _checked_store_name(image)
        with upload_open(image.upload_name) as src:
            info = _store().import_archive(src, name=store_name)
    except UploadRefused as exc:
        _refuse(image_id, exc)
        return
    except (TerrariumError, OSError) as exc:
        upload_remove(image.upload_name)
        Image.objects.filter(id=image_id).update(
            status=Image.Status.FAILED, error=str(exc)[:2000], upload_name="", upload_bytes=0
        )
        return
    Image.objects.filter(id=image_id, status=Image.Status.IMPORTING).update(
        status=Image.Status.READY,
        **image_fields_from(info),
    )


def image_ensure_in_store(*, image: Image) -> None:
    """Import the image on this node from its kept upload if this node lacks it."""
    store = _store()
    try:
        store_name = _checked_store_name(image)
        try:
            store.get(store_name)
        except NotFound:
            if not image.upload_name:
                raise ImportFailed(f"image {image.name} is not on this node and its upload is gone") from None
            with upload_open(image.upload_name) as src:
                store.import_archive(src, name=store_name)
    except UploadRefused as exc:
        logger.warning("image %s refused: %s", image.id, exc)
        raise ImportFailed(f"image {image.name} refused: {exc}") from None


def image_remove_on_node(*, image_id: int) -> None:
    """Remove a deleting image's copy in this node's store and its upload, then its row."""
    image = Image.objects.filter(id=image_id, status=Image.Status.DELETING).first()
    if image is None:
        return
    try:
        store_name = _checked_store_name(image) if image.store_name else None
        if image.upload_name:
            upload_remove(image.upload_name)
    except UploadRefused as exc:
        _refuse(image_id, exc)
        return
    if store_name:
        try:
            _store().remove(store_name)
        except NotFound:
            pass
    Image.objects.filter(id=image_id, status=Image.Status.DELETING).delete()


def _commit_refusal(image: Image, container) -> str | None:
    """Why this node must not commit container as image, or None."""
    if container is None or container.status in ("deleting", "deleted") or not container.runtime_name:
        return "the container is gone"
    if container.node_id != image.node_id or image.node is None or image.node.name != settings.NODE_NAME:
        return "the container is not on this node"
    if container.owner_id != image.owner_id and not is_teacher(image.owner):
        return "the container is not the image owner's"
    if image.base_id != container.image_id:
        return "the image's base is not the container's image"
    return None


def _over_quota(image: Image, size_bytes: int) -> str | None:
    quota = quota_for(user=image.owner)
    if quota is None:
        return None
    held = Image.objects.filter(owner=image.owner).exclude(status=Image.Status.FAILED).exclude(id=image.id)
    sizes = held.aggregate(files=Sum("size_bytes"), uploads=Sum("upload_bytes"))
    used = (sizes["files"] or 0) + (sizes["uploads"] or 0)
    if used + size_bytes > quota.max_image_bytes:
        return f"Image quota exceeded: the saved layer is {size_bytes} bytes and {max(quota.max_image_bytes - used, 0)} are left."
    return None


def image_commit_on_node(*, image_id: int, container_id: int) -> None:
    """Save a container of this node as a pending committed image: the runtime's
    commit, then the row made ready (or failed with why)."""
    if not Image.objects.filter(id=image_id, status=Image.Status.PENDING).update(status=Image.Status.IMPORTING):
        return
    image = Image.objects.select_related("owner", "node").get(id=image_id)
    container = Container.objects.filter(id=container_id).first()
    try:
        store_name = _checked_store_name(image)
    except UploadRefused as exc:
        _refuse(image_id, exc)
        return
    refusal = _commit_refusal(image, container)
    if refusal is not None:
        logger.warning("commit of container %s as image %s refused: %s", container_id, image_id, refusal)
        Image.objects.filter(id=image_id).update(status=Image.Status.FAILED, error=f"Refused: {refusal}.")
        return
    try:
        info = Runtime(root=settings.TERRARIUM_ROOT).commit(container.runtime_name, store_name)
    except TerrariumError as exc:
        Image.objects.filter(id=image_id).update(status=Image.Status.FAILED, error=str(exc)[:2000])
        return
    over = _over_quota(image, info.size_bytes)
    if over is not None:
        _store().remove(store_name)
        Image.objects.filter(id=image_id).update(status=Image.Status.FAILED, error=over)
        return
    Image.objects.filter(id=image_id, status=Image.Status.IMPORTING).update(
        status=Image.Status.READY, **image_fields_from(info))


def image_export_on_node(*, image_id: int, key: str) -> None:
    """Stream a ready image of this node's store, as a docker save archive, to the download waiting on key."""
    if not export_stream.KEY.fullmatch(key):
        logger.warning("export of image %s refused: key %r is not one the dashboard makes", image_id, key)
        return
    image = Image.objects.select_related("node").filter(id=image_id, status=Image.Status.READY).first()
    if image is None or image.node is None or image.node.name != settings.NODE_NAME:
        export_stream.refuse(key, "the image is not ready on this node")
        return
    try:
        chunks = export_image(_store(), _checked_store_name(image), "docker")
    except (UploadRefused, TerrariumError) as exc:
        export_stream.refuse(key, str(exc))
        return
    export_stream.send(key, chunks)
