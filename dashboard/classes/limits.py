"""A class's time and idle limits as they apply to one student's instance:
when it stops (time used from its first start, plus the student's
extensions) and when it is suspended (idle since its last activity)."""

from datetime import timedelta

EXTEND_SECONDS = 15 * 60
# How long a class's instances (and their files) are kept once it has ended.
RETENTION = timedelta(days=14)


def stop_at(*, klass, enrolment, instance):
    """When the instance is stopped (files kept), or None without a time limit."""
    if klass.time_limit_seconds is None or instance.ready_at is None:
        return None
    return instance.ready_at + timedelta(seconds=klass.time_limit_seconds + enrolment.extra_seconds)


def suspend_at(*, klass, last_active):
    """When the instance is suspended (memory kept), or None without an idle limit."""
    if klass.idle_limit_seconds is None:
        return None
    return last_active + timedelta(seconds=klass.idle_limit_seconds)
