"""Django's Redis cache, keeping its clients.

Django's RedisCacheClient builds a new redis.Redis over its connection pool
at every call (get, set, the throttle's count): about 3% of gunicorn's CPU
in bench/loop.py's profile (py-spy), for an object that is the same each
time. A client is safe
to share between threads; each pool's is made once here.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]  # not in django-stubs
        # By the pool's id: this object keeps its pools as long as itself.
        client = self._clients.get(id(pool))
        if client is None:
            make = self._client  # type: ignore[attr-defined]  # not in django-stubs
            client = self._clients[id(pool)] = make(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
