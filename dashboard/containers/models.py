from django.conf import settings
from django.db import models
from django.utils import timezone


class Container(models.Model):
    """A user's container; the runtime's state on its node is the truth,
    mirrored here by the worker's tasks and reconciliation."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        STARTING = "starting"
        RUNNING = "running"
        PAUSED = "paused"
        STOPPING = "stopping"
        EXITED = "exited"
        CREATED = "created"
        DELETING = "deleting"
        FAILED = "failed"
        DELETED = "deleted"

    # Statuses that hold resources on a node and count against quotas. A deleting
    # container holds them until the worker has removed it from the runtime.
    ACTIVE = (Status.QUEUED, Status.STARTING, Status.RUNNING, Status.PAUSED, Status.STOPPING, Status.DELETING)

    # The state machine: each action, the statuses it is allowed from and the status it
    # moves the container to (None: it moves it to none). The services refuse an action
    # from any other status and the detail page disables its button.
    ACTIONS = {
        "start": (frozenset({Status.EXITED, Status.CREATED, Status.FAILED}), Status.QUEUED),
        "stop": (frozenset({Status.RUNNING, Status.PAUSED}), Status.STOPPING),
        "restart": (
            frozenset({Status.RUNNING, Status.PAUSED, Status.EXITED, Status.CREATED, Status.FAILED}), Status.QUEUED
        ),
        "delete": (frozenset(Status) - {Status.DELETED, Status.DELETING}, Status.DELETING),
        "shell": (frozenset({Status.RUNNING}), None),
    }

    name = models.CharField(max_length=63)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="containers")
    image = models.ForeignKey("images.Image", on_delete=models.PROTECT, related_name="containers")
    node = models.ForeignKey("nodes.Node", on_delete=models.PROTECT, related_name="containers", null=True)
    command = models.JSONField(default=list, blank=True)
    env = models.JSONField(default=dict, blank=True)
    hostname = models.CharField(max_length=253, blank=True)
    memory_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    cpus = models.FloatField(null=True, blank=True)
    pids_limit = models.PositiveIntegerField(null=True, blank=True)
    # The most the container's writable layer may hold.
    disk_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    # "auto": a user namespace of its own (root inside, an unprivileged id on the
    # host); "host": the host's ids, which only a teacher may choose.
    userns = models.CharField(max_length=4, choices=[("auto", "own id range"), ("host", "host's ids")], default="auto")
    # Its network (dashboard.networks); null: none, only `lo`.
    network = models.ForeignKey("networks.Network", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="containers")
    # Container ports its owner opens through the dashboard's app proxy (issue 17).
    app_ports = models.JSONField(default=list, blank=True)
    # The address on its network as the runtime gave it at the last start; shown, never trusted.
    ip_address = models.CharField(max_length=45, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    status_detail = models.CharField(max_length=200, blank=True)
    runtime_id = models.CharField(max_length=80, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    oom_killed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # A deleted container keeps its row (its events are the audit trail) but frees its name.
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"], condition=~models.Q(status="deleted"), name="container_name_unique_per_owner"
            )
        ]

    def __str__(self):
        return self.name

    def can(self, action: str) -> bool:
        """Whether the container's status allows `action` (a key of ACTIONS)."""
        return self.status in self.ACTIONS[action][0]

    @property
    def lifecycle_actions(self) -> list[str]:
        """The actions that change its status and that its status allows now, sorted."""
        return sorted(a for a, (_, to) in self.ACTIONS.items() if to is not None and self.can(a))

    @property
    def is_gone(self) -> bool:
        """Deleted, or being deleted: nothing more to show of it."""
        return self.status in (self.Status.DELETING, self.Status.DELETED)

    @property
    def runtime_name(self) -> str:
        """The name the runtime knows it by: unique across users on a node."""
        return f"c{self.pk}"


class Event(models.Model):
    """Something that happened to a container: lifecycle changes and limit hits."""

    class Kind(models.TextChoices):
        CREATED = "created"
        STARTED = "started"
        EXITED = "exited"
        OOM = "oom"
        STOPPED = "stopped"
        PAUSED = "paused"
        RESUMED = "resumed"
        DELETED = "deleted"
        FAILED = "failed"
        THROTTLED = "throttled"
        PIDS_LIMIT = "pids_limit"
        MEMORY_HIGH = "memory_high"

    container = models.ForeignKey(Container, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.container} {self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"
