import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.labs.labfile import EGRESS, NETWORK_MODES

OUTPUT_LIMIT = 8192


def _new_secret() -> bytes:
    return secrets.token_bytes(32)


class Lab(models.Model):
    """A teacher's lab file, as imported: the checked definition (labfile.parse_lab)
    and the upload itself, so that it can be read again or exported."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labs")
    title = models.CharField(max_length=200)
    image = models.ForeignKey("images.Image", on_delete=models.PROTECT, related_name="labs")
    definition = models.JSONField()
    source = models.BinaryField()
    # The key of the students' params (labs.params): never shown, never exported.
    secret = models.BinaryField(default=_new_secret, editable=False)
    shared_with_teachers = models.BooleanField(default=False)
    # Until classes exist a lab is handed to every student at once.
    assigned_to_all = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # The import's self-test when steps have solve scripts (dashboard.labs.selftest):
    # {"status": queued|running|passed|failed|error, "detail": str, "steps": [{"id", "ok", "message"}]}.
    self_test = models.JSONField(default=dict, blank=True)
    self_test_container = models.ForeignKey(
        "containers.Container", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The instances' networks (dashboard.networks): "per-student" (each student's
    # own network of this lab) or "shared" (one for all); their egress, the teacher's to change.
    network = models.CharField(max_length=11, choices=[(m, m) for m in NETWORK_MODES], default="per-student")
    egress = models.CharField(max_length=8, choices=[(e, e) for e in EGRESS], default="internet")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.title

    @property
    def steps(self) -> list[dict]:
        return self.definition["steps"]

    def step(self, step_id: str) -> dict | None:
        return next((step for step in self.steps if step["id"] == step_id), None)


class LabInstance(models.Model):
    """A student's copy of a lab: one container, set up by the lab's script."""

    class Status(models.TextChoices):
        CREATING = "creating"
        SETTING_UP = "setting-up"
        READY = "ready"
        FAILED = "failed"

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="instances")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lab_instances")
    container = models.ForeignKey("containers.Container", on_delete=models.SET_NULL, null=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATING)
    # What the setup script printed (the teacher's to read) or why it could not run.
    setup_output = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["lab", "student"], name="lab_instance_one_per_student")]

    def __str__(self):
        return f"{self.lab} for {self.student}"

    @property
    def needs_new_container(self) -> bool:
        """Its setup failed or its container is gone or broken: a start makes it anew."""
        container = self.container
        return (self.status == self.Status.FAILED or container is None or container.is_gone
                or container.status == container.Status.FAILED)

    @property
    def startable(self) -> bool:
        """Whether "Start lab" has something to do: make it anew or start its stopped container."""
        return self.needs_new_container or self.container.can("start")

    @property
    def group(self) -> str:
        """The channel group its page listens on for check results."""
        return f"lab-instance-{self.pk}"


class CheckRun(models.Model):
    """One run of a step's check, from the click to its outcome."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        PASSED = "passed"
        FAILED = "failed"
        ERROR = "error"

    FINISHED = (State.PASSED, State.FAILED, State.ERROR)

    instance = models.ForeignKey(LabInstance, on_delete=models.CASCADE, related_name="check_runs")
    step_id = models.CharField(max_length=40)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    state = models.CharField(max_length=7, choices=State.choices, default=State.QUEUED)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    # For a failure: the step's fail text and the script's FAIL: line. For an
    # error: what broke, for the teacher (students see that the check is broken).
    message = models.TextField(blank=True)
    output = models.TextField(blank=True)
    truncated = models.BooleanField(default=False)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["instance", "step_id"])]

    def __str__(self):
        return f"{self.step_id} {self.state}"


class ApiToken(models.Model):
    """A personal token for /api/: only its SHA-256 is kept, the token itself
    is shown once when made."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…) of {self.user}"
