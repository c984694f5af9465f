from django.conf import settings
from django.db import models
from django.utils import timezone


class ShellSession(models.Model):
    """A browser shell in a container; doubles as the teachers' audit log."""

    key = models.CharField(max_length=64, unique=True)
    container = models.ForeignKey("containers.Container", on_delete=models.CASCADE, related_name="shell_sessions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shell_sessions")
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self):
        return f"shell {self.key} in {self.container} by {self.user}"
