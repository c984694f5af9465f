"""Wrong join codes, counted per user (or per address for a visitor): a join
code is a password of sorts, so guessing is slowed like logins are."""

from datetime import timedelta

from django.utils import timezone

from dashboard.classes.models import JoinAttempt

MAX_WRONG = 10
WINDOW = timedelta(minutes=15)
MESSAGE = "Too many wrong join codes: try again in 15 minutes."


def join_throttled(*, key: str) -> bool:
    return JoinAttempt.objects.filter(key=key, at__gte=timezone.now() - WINDOW).count() >= MAX_WRONG


def join_wrong_record(*, key: str) -> None:
    now = timezone.now()
    JoinAttempt.objects.filter(at__lt=now - WINDOW).delete()
    JoinAttempt.objects.create(key=key, at=now)
