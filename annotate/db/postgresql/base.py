"""Django's PostgreSQL backend, with the health check where it can find
something.

CONN_HEALTH_CHECKS pings the server (SELECT 1) before each request's first
query: one round trip in ten of a claim+submit loop, on a connection that
answered a moment before. A connection is pinged here only when it has been
unused for IDLE_SECONDS, the connections that a proxy, a firewall or the
server's idle timeout may have dropped. A restart of the server inside that
time is met by one request per connection, answered 503 with Retry-After
(annotate.middleware.DatabaseUnavailableMiddleware); Django closes the
broken connection at that request's end and the next one connects again.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.backends.postgresql import base

IDLE_SECONDS = 10.0


class DatabaseWrapper(base.DatabaseWrapper):
    used_at = float("-inf")

    def _cursor(self, name: str | None = None) -> Any:
        if time.monotonic() - self.used_at < IDLE_SECONDS:
            self.health_check_done = True  # used a moment ago: no ping
        cursor = super()._cursor(name)  # type: ignore[misc]  # untyped in django-stubs
        self.used_at = time.monotonic()
        return cursor
