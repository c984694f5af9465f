from django.conf import settings
from django.db import models
from django.utils import timezone


class Network(models.Model):
    """A network containers share: each student's own (made on first use), a
    teacher's shared one (for a class or a group) or a lab's. On every node
    with containers on it the runtime has a network named `runtime_name`,
    whose egress the node sets from this row."""

    class Kind(models.TextChoices):
        PERSONAL = "personal"
        SHARED = "shared"
        LAB = "lab"

    class Egress(models.TextChoices):
        INTERNET = "internet", "internet (no private addresses)"
        OPEN = "open", "open (anything)"
        NONE = "none", "none (this network only)"

    name = models.CharField(max_length=63)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="networks")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PERSONAL)
    egress = models.CharField(max_length=8, choices=Egress.choices, default=Egress.INTERNET)
    # A teacher's group network: the class's students and staff may use it.
    klass = models.ForeignKey("classes.Class", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="networks")
    lab = models.ForeignKey("labs.Lab", on_delete=models.CASCADE, null=True, blank=True, related_name="networks")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "name", "id"]
        constraints = [
            # A personal network is named after its owner; the others' names are chosen and unique per owner.
            models.UniqueConstraint(fields=["owner", "name"], condition=~models.Q(kind="personal"),
                                    name="network_name_unique_per_owner"),
            models.UniqueConstraint(fields=["owner"], condition=models.Q(kind="personal"),
                                    name="network_one_personal_per_user"),
        ]

    def __str__(self):
        return self.name

    @property
    def runtime_name(self) -> str:
        """The name the runtime knows it by on every node: unique across users."""
        return self.runtime_name_of(self.pk)

    @staticmethod
    def runtime_name_of(network_id: int) -> str:
        """runtime_name for a row that may be gone (a node removing its copy)."""
        return f"n{network_id}"
