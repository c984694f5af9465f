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


class Recording(models.Model):
    """A lab shell's terminal session as asciicast v2: the file lives on the
    node whose agent owns the PTY (dashboard.shell.recording), named by the
    session's key; this row says where, whose and when its time 0 is."""

    key = models.CharField(max_length=64, unique=True)
    instance = models.ForeignKey("labs.LabInstance", on_delete=models.CASCADE, related_name="recordings")
    # Who typed (the session's user).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    node_name = models.CharField(max_length=100)
    # The wall-clock time of the events' time 0.
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    # It reached settings.RECORDING_MAX_BYTES and stopped there.
    capped = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["instance", "started_at"])]

    def __str__(self):
        return f"recording {self.key} of {self.instance}"
