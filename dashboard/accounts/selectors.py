"""Reads about users: their quota."""

from dashboard.accounts.models import Quota
from dashboard.accounts.roles import is_teacher


def quota_for(*, user) -> Quota | None:
    """The user's quota; students without a row get the defaults, teachers and
    admins without a row are not limited."""
    try:
        return user.quota
    except Quota.DoesNotExist:
        return None if is_teacher(user) else Quota(user=user)
