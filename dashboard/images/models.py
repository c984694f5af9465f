from django.conf import settings
from django.db import models
from django.utils import timezone


class Image(models.Model):
    """A root filesystem imported from a tarball or saved from a container; the runtime's copy lives on a node."""

    class Status(models.TextChoices):
        PENDING = "pending"
        IMPORTING = "importing"
        READY = "ready"
        FAILED = "failed"
        # Kept until the node's worker confirms the files are gone; counts in the quota until then.
        DELETING = "deleting"

    class Visibility(models.TextChoices):
        PRIVATE = "private"
        SHARED = "shared"

    # Unique per owner: a student's "ubuntu" never takes the name of, or stands in for, a teacher's.
    name = models.CharField(max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="images")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE)
    shared_with = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="shared_images")
    node = models.ForeignKey("nodes.Node", on_delete=models.PROTECT, related_name="images", null=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    # A bare file name inside UPLOAD_DIR (uploads.UPLOAD_NAME), never a path: the root worker
    # derives the path itself and re-checks the name (see node.py).
    upload_name = models.CharField(max_length=60, blank=True)
    upload_bytes = models.PositiveBigIntegerField(default=0)
    runtime_id = models.CharField(max_length=80, blank=True)
    # The name in the runtime's store: never reused, so a deleted image's leftovers cannot collide.
    store_name = models.CharField(max_length=120, blank=True)
    format = models.CharField(max_length=40, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    file_count = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    defaults = models.JSONField(default=dict, blank=True)
    # A committed image ("Save as image") is its base's layers and one more on
    # the same node: the base cannot go while it is there.
    base = models.ForeignKey("self", on_delete=models.PROTECT, related_name="derived", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="image_name_unique_per_owner")]

    def __str__(self):
        return self.name
