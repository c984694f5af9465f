"""`make run`'s first-run step: a first admin with a password shown once and a
demo busybox image; a second run changes nothing."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from dashboard.images.models import Image

pytestmark = pytest.mark.django_db


def bootstrap() -> str:
    out = io.StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue()


def test_the_first_run_creates_an_admin_and_a_ready_demo_image(runtime_env, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    output = bootstrap()
    admin = get_user_model().objects.get(is_superuser=True)
    password = output.split("password ", 1)[1].split()[0]
    assert admin.check_password(password)
    image = Image.objects.get()
    assert (image.name, image.status, image.visibility, image.owner) == ("busybox", "ready", "shared", admin)

    again = bootstrap()
    assert "password" not in again
    assert get_user_model().objects.count() == 1 and Image.objects.count() == 1
    from runtime import ImageStore

    ImageStore(root=runtime_env.root).remove(image.store_name)
