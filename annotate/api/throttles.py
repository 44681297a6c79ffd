"""Throttles for the API: a pipeline's runaway loop of writes is slowed down
with a 429 and Retry-After before it floods the database."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from annotate.models import ApiToken

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """(writes, seconds) of a rate such as "600/minute" (settings checks its form)."""
    number, period = rate.split("/")
    return int(number), SECONDS[period[0]]


def window_count(key: str, seconds: int) -> int:
    """Add one to the count under `key`, kept for `seconds`; the new count.

    On Redis one round trip (INCR and EXPIRE in a pipeline): DRF's
    SimpleRateThrottle reads and writes back a pickled list of every write's
    time in the window, two round trips and a list as long as the rate,
    9% of gunicorn's CPU in bench/loop.py's profile. Elsewhere (the local
    memory cache of a laptop and the tests) add, then incr."""
    cache = caches["default"]  # the backend itself: `cache` is a proxy
    if isinstance(cache, RedisCache):
        # Django's RedisCache has no INCR that creates the key (its incr()
        # checks EXISTS first, a second round trip), so its client is used.
        full = cache.make_and_validate_key(key)
        pipe = cache._cache.get_client(full, write=True).pipeline(transaction=False)
        pipe.incr(full)
        pipe.expire(full, seconds)
        return int(pipe.execute()[0])
    if cache.add(key, 1, seconds):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between the two calls: a new window
        cache.add(key, 1, seconds)
        return 1


class TokenWriteThrottle(BaseThrottle):
    """At most settings.API_WRITE_RATE writes per API token in each window
    of the rate's period (a fixed window: a burst across a window's edge may
    reach twice the rate, the price of one counter); reads and session
    (page) requests pass untouched. Counted in the default cache, so with
    Redis every worker shares one count."""

    retry_after: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method not in WRITE_METHODS or not isinstance(
            request.auth, ApiToken
        ):
            return True
        # Read at each request, so that the setting can change (and a test
        # can lower it).
        allowed, seconds = rate_parse(str(settings.API_WRITE_RATE))
        now = time.time()
        window = int(now // seconds)
        key = f"throttle:token-write:{request.auth.pk}:{seconds}:{window}"
        # The count lives in Redis in production: when it is unreachable the
        # write goes through (logged) rather than fail, so labelling keeps
        # working without the broker's Redis (services.deferred).
        try:
            count = window_count(key, seconds)
        except redis.RedisError as e:
            log.warning("throttle not applied, the cache is unreachable: %s", e)
            return True
        if count <= allowed:
            return True
        # Whole seconds, at least one: Retry-After is an integer.
        self.retry_after = max(1, math.ceil((window + 1) * seconds - now))
        return False

    def wait(self) -> float | None:
        return self.retry_after
