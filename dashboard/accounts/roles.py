"""Roles: admin (superuser), teacher (group `teachers`), student (everyone else)."""

TEACHERS_GROUP = "teachers"


def is_admin(user) -> bool:
    return bool(user.is_authenticated and user.is_superuser)


def is_teacher(user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_is_teacher", None)
    if cached is None:
        cached = user.groups.filter(name=TEACHERS_GROUP).exists()
        user._is_teacher = cached
    return cached
