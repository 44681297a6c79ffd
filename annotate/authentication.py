"""API token authentication in one hand-written query (rawsql.py says why)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from annotate.rawsql import Columns

_TOKEN = Columns(Token, "t")
_USER = Columns(User, "u")
_SQL = (
    f"SELECT {_TOKEN.sql}, {_USER.sql} FROM authtoken_token t "  # noqa: S608 - fixed SQL, no input
    "JOIN auth_user u ON u.id = t.user_id WHERE t.key = %s"
)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's `Authorization: Token <key>`, with the same answers."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        with connection.cursor() as cursor:
            cursor.execute(_SQL, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = _TOKEN.load(row)
        token.user = user = _USER.load(row, _TOKEN.width)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return user, token
