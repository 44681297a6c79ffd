"""Production's cache (annotate.cache.RedisCache) makes its Redis client once,
not at every call, and works as Django's."""

from __future__ import annotations

from django.core.cache import caches

from annotate.cache import RedisCache
from tests.conftest import REDIS_URL, _redis_answers, skip_or_fail

# Its own database of the test Redis, as the throttle's tests use.
CACHE_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/12"


def test_the_redis_cache_makes_its_client_once_and_works(settings):
    if not _redis_answers(CACHE_REDIS_URL):
        skip_or_fail(f"the Redis cache's test needs Redis at {CACHE_REDIS_URL}")
    settings.CACHES = {
        "default": {"BACKEND": "annotate.cache.RedisCache", "LOCATION": CACHE_REDIS_URL}
    }
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    client = cache._cache.get_client

    clients = [client(write=True), client(), client(write=True)]
    cache.set("cache-test", {"a": 1}, 30)

    assert all(c is clients[0] for c in clients)
    assert cache.get("cache-test") == {"a": 1}
    cache.delete("cache-test")
