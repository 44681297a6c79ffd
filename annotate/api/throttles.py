"""Throttles for the API: a pipeline's runaway loop of writes is slowed down
with a 429 and Retry-After before it floods the database."""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from annotate.models import ApiToken

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class TokenWriteThrottle(SimpleRateThrottle):
    """At most settings.API_WRITE_RATE writes per API token; reads and
    session (page) requests pass untouched. Counted in the default cache, so
    with Redis every worker shares one count."""

    scope = "token-write"

    def get_rate(self) -> str:
        # Read at each request rather than from DRF's class-level copy, so
        # that the setting can change (and a test can lower it).
        return str(settings.API_WRITE_RATE)

    def allow_request(self, request: Request, view: Any) -> bool:
        # The count lives in Redis in production: when it is unreachable the
        # write goes through (logged) rather than fail, so labelling keeps
        # working without the broker's Redis (services.deferred).
        try:
            return bool(super().allow_request(request, view))
        except redis.RedisError as e:
            log.warning("throttle not applied, the cache is unreachable: %s", e)
            return True

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.method not in WRITE_METHODS or not isinstance(
            request.auth, ApiToken
        ):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
