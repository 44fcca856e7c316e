"""Creating, checking, listing and revoking API tokens: the command, the profile page and the
API's authentication all go through here."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from webapp.api.models import ApiToken

# "pfl_" marks a prefloop token (secret scanners and people can tell it apart); 32 random bytes.
TOKEN_PREFIX = "pfl_"
PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
# last_used is written at most this often per token: not one UPDATE per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    """A token request that cannot be done (unknown prefix, ambiguous prefix)."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(user: AbstractBaseUser, name: str = "") -> tuple[ApiToken, str]:
    """A new token for `user`: the row (holding only its sha256) and the token itself, which
    exists nowhere else afterwards, so the caller shows it once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user, name=name.strip()[:100], sha256=digest(token), prefix=token[:PREFIX_LENGTH]
    )
    return row, token


class Refused(Exception):
    """Why a presented token does not authenticate; the message is for the API's 401."""


def authenticate(token: str) -> ApiToken:
    """The live token row (with its user) for `token`, or Refused saying why."""
    row = ApiToken.objects.select_related("user").filter(sha256=digest(token)).first()
    if row is None:
        raise Refused("unknown token")
    if row.revoked is not None:
        raise Refused("this token was revoked")
    if not row.user.is_active:
        raise Refused("the token's user is inactive")
    now = timezone.now()
    if row.last_used is None or now - row.last_used >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=row.pk).update(last_used=now)
        row.last_used = now
    return row


def tokens_of(user: AbstractBaseUser | None = None) -> QuerySet[ApiToken]:
    """A user's tokens (every user's for None), newest first."""
    rows = ApiToken.objects.select_related("user")
    return rows if user is None else rows.filter(user=user)


def revoke(prefix: str, user: AbstractBaseUser | None = None) -> ApiToken:
    """Revoke the one live token whose prefix starts with `prefix` (of `user`, when given)."""
    prefix = prefix.strip().rstrip("…")
    if not prefix:
        raise TokenError("give the token's prefix, as the list shows it")
    matches = list(tokens_of(user).filter(prefix__startswith=prefix[:PREFIX_LENGTH], revoked__isnull=True))
    if not matches:
        raise TokenError(f"no live token with prefix {prefix!r}")
    if len(matches) > 1:
        raise TokenError(f"{len(matches)} live tokens start with {prefix!r}; give more of the prefix")
    row = matches[0]
    ApiToken.objects.filter(pk=row.pk, revoked__isnull=True).update(revoked=timezone.now())
    row.refresh_from_db()
    return row
