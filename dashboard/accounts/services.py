"""Writes about users: quotas, the first admin account and its forced password change."""

import secrets

from django.contrib.auth import get_user_model

from dashboard.accounts.models import PasswordChangeRequired, Quota


def quota_set(
    *,
    user,
    max_containers: int,
    max_memory_bytes: int,
    max_cpus: float,
    pids_limit: int | None = None,
    disk_bytes: int | None = None,
    max_shells: int | None = None,
    max_images: int | None = None,
    max_image_bytes: int | None = None,
) -> Quota:
    """Set a user's quota; a None among the optional limits keeps its value (the default for a new quota)."""
    optional = {
        "pids_limit": pids_limit,
        "disk_bytes": disk_bytes,
        "max_shells": max_shells,
        "max_images": max_images,
        "max_image_bytes": max_image_bytes,
    }
    quota, _ = Quota.objects.update_or_create(
        user=user,
        defaults={
            "max_containers": max_containers,
            "max_memory_bytes": max_memory_bytes,
            "max_cpus": max_cpus,
            **{field: value for field, value in optional.items() if value is not None},
        },
    )
    return quota


def admin_ensure(*, username: str = "admin") -> str | None:
    """Create the first admin with a random password, to be changed at first login;
    returns the password, or None when an admin already exists (the password is
    shown once and never stored)."""
    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        return None
    password = secrets.token_urlsafe(12)
    admin = User.objects.create_superuser(username=username, email="", password=password)
    PasswordChangeRequired.objects.create(user=admin)
    return password


def password_change_required_clear(*, user) -> None:
    PasswordChangeRequired.objects.filter(user=user).delete()
