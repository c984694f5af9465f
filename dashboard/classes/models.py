from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.classes.codes import new_join_code


class Class(models.Model):
    """A lab handed to a group of students by its teacher (the owner), with
    assistants who see and help in this class only."""

    name = models.CharField(max_length=100)
    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="classes")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="classes_owned")
    assistants = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="classes_assisted")
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    # A join code then also makes an account on the spot for a visitor.
    self_registration = models.BooleanField(default=False)
    join_code = models.CharField(max_length=8, unique=True, default=new_join_code)
    join_code_expires_at = models.DateTimeField(null=True, blank=True)
    seats = models.PositiveIntegerField(default=30)
    # Per instance: wall-clock time from its first start until it is stopped
    # (files kept), and idle time until it is suspended (memory kept). None: no limit.
    time_limit_seconds = models.PositiveIntegerField(null=True, blank=True)
    idle_limit_seconds = models.PositiveIntegerField(null=True, blank=True)
    # How many times a student may extend their own time limit (the teacher: any).
    student_extensions = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "classes"

    def __str__(self):
        return self.name

    @property
    def group(self) -> str:
        """The channel group its grid's sockets listen on."""
        return f"class-{self.pk}"


class Enrolment(models.Model):
    klass = models.ForeignKey(Class, on_delete=models.CASCADE, related_name="enrolments")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrolments")
    joined_at = models.DateTimeField(default=timezone.now)
    # Set by the student from their page, shown on the teacher's grid.
    hand_raised_at = models.DateTimeField(null=True, blank=True)
    extra_seconds = models.PositiveIntegerField(default=0)
    extensions_used = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["student__username"]
        constraints = [models.UniqueConstraint(fields=["klass", "student"], name="enrolment_once_per_class")]

    def __str__(self):
        return f"{self.student} in {self.klass}"


class JoinAttempt(models.Model):
    """A wrong join code, kept for the throttle (per user, or per address for a visitor)."""

    key = models.CharField(max_length=200)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["key", "at"])]
