from django.db import models


class AppShare(models.Model):
    """Whether the owner lets the teachers of their classes open the
    container's ports (no row: they may not)."""

    container = models.OneToOneField("containers.Container", on_delete=models.CASCADE, related_name="app_share")
    teachers = models.BooleanField(default=False)

    def __str__(self):
        return f"{self.container} apps shared with teachers: {self.teachers}"
