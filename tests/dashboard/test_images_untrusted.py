"""The root worker trusts nothing the web side wrote: these tests play a
compromised web process (or anyone who can send it tasks). Image rows name an
upload outside UPLOAD_DIR, a symlink, a FIFO, a hard link or a directory in
uploads/, or a store name that is a path; each is refused and logged, the row
is left failed, and the file outside (the victim) is neither read, changed nor
unlinked. A FIFO that hung the worker would hang the test."""

import os
import secrets

import pytest
from celery import current_app
from django.conf import settings

from dashboard.images.models import Image
from dashboard.images.node import image_ensure_in_store
from dashboard.images.tasks import image_import, image_remove
from runtime import ImageStore, ImportFailed, NotFound

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

VICTIM_BYTES = b"root:secret:0:0\n"


@pytest.fixture
def victim(runtime_session):
    """A file outside UPLOAD_DIR, next to it, that root must not touch."""
    path = runtime_session.root.parent / f"victim-{secrets.token_hex(4)}"
    path.write_bytes(VICTIM_BYTES)
    os.chmod(path, 0o600)
    yield path
    path.unlink(missing_ok=True)


def upload_name() -> str:
    return f"{secrets.token_hex(16)}.upload"


def planted_image(owner, node, *, upload_name, store_name=None, status=Image.Status.PENDING):
    return Image.objects.create(
        name=f"planted-{secrets.token_hex(3)}", owner=owner, node=node, status=status,
        upload_name=upload_name, store_name=store_name or f"planted-{secrets.token_hex(4)}",
    )


def import_and_wait(image, node, wait_until) -> Image:
    image_import.apply_async(args=[image.id], queue=node.queue)
    return wait_until(lambda: Image.objects.filter(id=image.id, status__in=["ready", "failed"]).first())


def assert_refused_and_logged(image, worker, wait_until) -> None:
    assert image.status == "failed"
    assert image.error.startswith("Refused: "), image.error
    wait_until(lambda: f"image {image.id} refused: " in worker.log.read_text())
    with pytest.raises(NotFound):
        ImageStore(root=settings.TERRARIUM_ROOT).get(image.store_name)


def assert_untouched(victim) -> None:
    assert victim.read_bytes() == VICTIM_BYTES
    assert victim.stat().st_nlink == 1 and oct(victim.stat().st_mode & 0o7777) == "0o600"


@pytest.mark.parametrize("name_of", [
    lambda victim, uploads: os.path.relpath(victim, uploads),
    lambda victim, uploads: str(victim),
    lambda victim, uploads: "../../etc/passwd",
], ids=["relative", "absolute", "etc-passwd"])
def test_an_upload_name_outside_upload_dir_is_refused(owner, node, worker, uploads, victim, wait_until, name_of):
    image = import_and_wait(planted_image(owner, node, upload_name=name_of(victim, uploads)), node, wait_until)
    assert_refused_and_logged(image, worker, wait_until)
    assert_untouched(victim)


def test_a_symlink_in_uploads_to_a_file_outside_is_not_followed(owner, node, worker, uploads, victim, wait_until):
    name = upload_name()
    (uploads / name).symlink_to(victim)
    image = import_and_wait(planted_image(owner, node, upload_name=name), node, wait_until)
    assert_refused_and_logged(image, worker, wait_until)
    assert "symbolic link" in image.error
    assert_untouched(victim)


def test_a_hard_link_in_uploads_to_a_file_outside_is_refused(owner, node, worker, uploads, victim, wait_until):
    name = upload_name()
    os.link(victim, uploads / name)
    image = import_and_wait(planted_image(owner, node, upload_name=name), node, wait_until)
    assert_refused_and_logged(image, worker, wait_until)
    (uploads / name).unlink()
    assert_untouched(victim)


def test_a_fifo_in_uploads_is_refused_without_blocking(owner, node, worker, uploads, wait_until):
    name = upload_name()
    os.mkfifo(uploads / name)
    image = import_and_wait(planted_image(owner, node, upload_name=name), node, wait_until)
    assert_refused_and_logged(image, worker, wait_until)
    assert "not a regular file" in image.error


def test_a_directory_in_uploads_is_refused(owner, node, worker, uploads, wait_until):
    name = upload_name()
    (uploads / name).mkdir()
    (uploads / name / "inside").write_bytes(b"kept")
    image = import_and_wait(planted_image(owner, node, upload_name=name), node, wait_until)
    assert_refused_and_logged(image, worker, wait_until)
    assert (uploads / name / "inside").read_bytes() == b"kept"


def test_a_store_name_that_is_a_path_is_refused(owner, node, worker, uploads, busybox_tar, wait_until):
    name = upload_name()
    (uploads / name).write_bytes(busybox_tar.read_bytes())
    image = planted_image(owner, node, upload_name=name, store_name="../../images/x")
    image = import_and_wait(image, node, wait_until)
    assert image.status == "failed" and image.error.startswith("Refused: store name")
    wait_until(lambda: f"image {image.id} refused: " in worker.log.read_text())


@pytest.mark.parametrize("planted", ["relative", "symlink"])
def test_removing_an_image_never_unlinks_outside_upload_dir(owner, node, worker, uploads, victim, wait_until, planted):
    if planted == "relative":
        name = os.path.relpath(victim, uploads)
    else:
        name = upload_name()
        (uploads / name).symlink_to(victim)
    image = planted_image(owner, node, upload_name=name, status=Image.Status.DELETING)
    image_remove.apply_async(args=[image.id], queue=node.queue)
    wait_until(lambda: not Image.objects.filter(id=image.id, status=Image.Status.DELETING).exists())
    assert_untouched(victim)
    if planted == "relative":
        image.refresh_from_db()
        assert image.status == "failed" and image.error.startswith("Refused: ")
        wait_until(lambda: f"image {image.id} refused: " in worker.log.read_text())
    else:
        assert not (uploads / name).is_symlink()


def test_a_task_carrying_a_path_removes_nothing(owner, node, worker, uploads, victim, wait_until):
    # Sent raw, as anyone on the broker could: apply_async would check the arguments here.
    result = current_app.send_task(image_remove.name, args=["busybox-test", str(victim)], queue=node.queue)
    wait_until(lambda: f"image_remove[{result.id}] raised unexpected: TypeError" in worker.log.read_text())
    assert_untouched(victim)


def test_a_container_start_does_not_import_a_symlinked_upload(owner, node, runtime_env, uploads, victim):
    name = upload_name()
    (uploads / name).symlink_to(victim)
    image = planted_image(owner, node, upload_name=name, status=Image.Status.READY)
    with pytest.raises(ImportFailed, match="symbolic link"):
        image_ensure_in_store(image=image)
    assert_untouched(victim)
