from django.conf import settings
from django.db import models

GiB = 1 << 30


class Quota(models.Model):
    """Per-user limits on what a user may run at once (students' defaults)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota")
    max_containers = models.PositiveIntegerField(default=3)
    max_memory_bytes = models.PositiveBigIntegerField(default=GiB)
    max_cpus = models.FloatField(default=2.0)
    # Each container's limits when the form leaves them blank, and the most it may ask for.
    pids_limit = models.PositiveIntegerField(default=256)
    disk_bytes = models.PositiveBigIntegerField(default=GiB)
    max_shells = models.PositiveIntegerField(default=4)
    max_images = models.PositiveIntegerField(default=5)
    max_image_bytes = models.PositiveBigIntegerField(default=4 * GiB)

    def __str__(self):
        return f"quota of {self.user}"


class PasswordChangeRequired(models.Model):
    """A user who must change their password before anything else: the first
    admin, whose random password was printed on the terminal."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="password_change_required"
    )

    def __str__(self):
        return f"{self.user} must change their password"
