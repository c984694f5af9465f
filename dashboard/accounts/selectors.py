"""Reads about users: their quota, whether they must change their password."""

from django.contrib.auth import get_user_model
from django.http import Http404

from dashboard.accounts.models import PasswordChangeRequired, Quota
from dashboard.accounts.roles import TEACHERS_GROUP, is_admin, is_teacher


def quota_for(*, user) -> Quota | None:
    """The user's quota; students without a row get the defaults, teachers and
    admins without a row are not limited."""
    try:
        return user.quota
    except Quota.DoesNotExist:
        return None if is_teacher(user) else Quota(user=user)


def users_quota_manageable_by(*, user):
    """Whose quota the user may set: admins anyone's, teachers students' only."""
    users = get_user_model().objects.select_related("quota").order_by("username")
    if is_admin(user):
        return users
    if is_teacher(user):
        return users.filter(is_superuser=False).exclude(groups__name=TEACHERS_GROUP)
    return users.none()


def user_get_quota_manageable(*, user, user_id):
    try:
        return users_quota_manageable_by(user=user).get(pk=int(user_id))
    except (get_user_model().DoesNotExist, ValueError, TypeError):
        raise Http404("No such user") from None


def password_change_required(*, user) -> bool:
    return PasswordChangeRequired.objects.filter(user_id=user.pk).exists()
