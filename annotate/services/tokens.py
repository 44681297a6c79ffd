"""API tokens: each user's own, made and revoked on their profile page."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotate.models import ApiToken

# Tells the key for what it is, in a log or a leaked file (secret scanners
# look for such prefixes).
KEY_TAG = "ra_"
PREFIX_LENGTH = 10  # the tag and 7 characters of the key: what the pages show
# last_used_at is written at most this often per token: one UPDATE (and its
# commit) a few minutes per client, rather than one at every request.
TOKEN_USE_EVERY = timedelta(minutes=5)
NAME_MAX = ApiToken._meta.get_field("name").max_length or 100


def api_token_hash(key: str) -> str:
    """What the database keeps of a key, and looks a request's key up by."""
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str, now: datetime) -> tuple[ApiToken, str]:
    """Make a named API token for `user`: (token, key).

    The key is returned here once and stored nowhere, only its sha256 and
    its first characters. Raises ValidationError on `name`: code `required`
    for a blank one, `max_length` past NAME_MAX characters, `duplicate_name`
    when the user has a live token of that name already.
    """
    name = name.strip()
    if not name:
        raise _name_error("Give the token a name.", code="required")
    if len(name) > NAME_MAX:
        raise _name_error(
            f"A name has at most {NAME_MAX} characters.", code="max_length"
        )
    key = KEY_TAG + secrets.token_urlsafe(32)
    try:
        # A savepoint of its own: the name's unique constraint catches two
        # at once, and the caller's transaction goes on after the error.
        with transaction.atomic():
            token = ApiToken.objects.create(
                user=user,
                name=name,
                prefix=key[:PREFIX_LENGTH],
                key_hash=api_token_hash(key),
                created_at=now,
            )
    except IntegrityError:
        raise _name_error(
            f"You have a token named {name!r} already: revoke it or choose another name.",
            code="duplicate_name",
        ) from None
    return token, key


def _name_error(message: str, *, code: str) -> ValidationError:
    return ValidationError({"name": [ValidationError(message, code=code)]})


@transaction.atomic
def api_token_revoke(*, token: ApiToken, by: User, now: datetime) -> ApiToken:
    """Revoke a token: the next request with its key is refused (401).

    Idempotent: a revoked token keeps who revoked it first, and when.
    """
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = now
        token.revoked_by = by
        token.save(update_fields=["revoked_at", "revoked_by"])
    return token


@transaction.atomic
def api_tokens_revoke(*, user: User, by: User, now: datetime) -> int:
    """Revoke every live token of `user` (a manager's action on the members
    page); the number revoked. Idempotent."""
    return (
        ApiToken.objects.live().filter(user=user).update(revoked_at=now, revoked_by=by)
    )


def api_token_used(*, token: ApiToken, now: datetime) -> None:
    """Record that `token` authenticated a request, at most once per
    TOKEN_USE_EVERY: most requests write nothing and run no query here.

    One UPDATE, atomic by itself: no transaction around it, which would add
    statements to the request.
    """
    last = token.last_used_at
    if last is not None and now - last < TOKEN_USE_EVERY:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
