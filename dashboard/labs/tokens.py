"""Personal API tokens: `trm_` and 40 random characters. Only the digest is
stored; a lookup is by digest, so no comparison leaks a token's prefix."""

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.utils import timezone

from dashboard.labs.models import ApiToken

PREFIX = "trm_"
MAX_TOKENS = 5


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """A new token for `user` -> (its record, the token, to show once)."""
    name = name.strip()[:100] or "token"
    if ApiToken.objects.filter(user=user).count() >= MAX_TOKENS:
        raise ValidationError(f"You have {MAX_TOKENS} tokens already: delete one first.")
    token = PREFIX + secrets.token_urlsafe(30)
    record = ApiToken.objects.create(user=user, name=name, digest=_digest(token), prefix=token[:8])
    return record, token


def api_token_delete(*, user, token_id) -> None:
    try:
        ApiToken.objects.filter(user=user, pk=int(token_id)).delete()
    except (TypeError, ValueError):
        pass


def api_token_user(*, token: str):
    """The active user the token belongs to, or None."""
    if not token.startswith(PREFIX):
        return None
    record = ApiToken.objects.select_related("user").filter(digest=_digest(token)).first()
    if record is None or not record.user.is_active:
        return None
    ApiToken.objects.filter(pk=record.pk).update(last_used_at=timezone.now())
    return record.user
