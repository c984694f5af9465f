"""First-run set-up for `make run`: this node's row, a first admin (its random
password printed once) and a demo busybox image when there is no image yet.
Running it again changes nothing."""

import shutil

from django.conf import settings
from django.core.management.base import BaseCommand

from dashboard.accounts.services import admin_ensure
from dashboard.images.models import Image
from dashboard.images.node import image_import_on_node
from dashboard.images.services import image_create
from dashboard.images.upload_files import upload_name_new, upload_path
from dashboard.nodes.services import node_heartbeat, node_worker_seen


class Command(BaseCommand):
    help = "Create this node's row, the first admin and a demo image if they do not exist."

    def handle(self, *args, **options):
        node_heartbeat(name=settings.NODE_NAME)
        node_worker_seen(name=settings.NODE_NAME)
        password = admin_ensure()
        if password:
            self.stdout.write(self.style.SUCCESS(f"Created the first admin: username admin, password {password}"))
            self.stdout.write("This password is shown only once; you will be asked to change it at first login.")
        if not Image.objects.exists() and shutil.which("busybox"):
            self._demo_image()

    def _demo_image(self):
        from django.contrib.auth import get_user_model

        from runtime.image import busybox

        settings.UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
        name = upload_name_new()
        path = busybox.write_tarball(upload_path(name), busybox=shutil.which("busybox"))
        admin = get_user_model().objects.filter(is_superuser=True).order_by("id").first()
        image = image_create(
            owner=admin, name="busybox", upload_name=name, upload_bytes=path.stat().st_size,
            visibility=Image.Visibility.SHARED,
        )
        # Imported here, before the worker starts, so the first page already shows it ready.
        image_import_on_node(image_id=image.id)
        image.refresh_from_db()
        self.stdout.write(f"Demo image busybox: {image.status} {image.error}".rstrip())
