"""API token authentication in one hand-written query, and a page's user too.

DRF's own TokenAuthentication goes through the ORM: 1.1 ms of CPU per request
against 0.2 ms for this query (in-process, 3,200 calls each, on the 2-core
VM), about 7% of a claim+submit loop's CPU; bench/queue.py showed it as 8%
more claim p50 at 1M items and 32 annotators (13.8 ms against 11.8-12.7).
Tokens are annotate.models.ApiToken, looked up by the key's sha256."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import backends
from django.utils import timezone
from rest_framework import authentication, exceptions

from annotate import rawsql
from annotate.services.tokens import api_token_hash, api_token_used


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's `Authorization: Token <key>`, with the same answers; a revoked
    or unknown key is a 401."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        with rawsql.prepared_cursor() as cursor:
            cursor.execute(rawsql.TOKEN_SQL, [api_token_hash(key)])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = rawsql.TOKEN.load(row)
        token.user = user = rawsql.USER.load(row, rawsql.TOKEN.width)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        api_token_used(token=token, now=timezone.now())
        return user, token


class ModelBackend(backends.ModelBackend):
    """Django's, with the logged-in user of each page read by a prepared
    statement rather than the ORM (annotate.sessions says why)."""

    def get_user(self, user_id: Any) -> Any:
        with rawsql.prepared_cursor() as cursor:
            cursor.execute(rawsql.USER_SQL, [user_id])
            row = cursor.fetchone()
        if row is None:
            return None
        user = rawsql.USER.load(row)
        return user if self.user_can_authenticate(user) else None
