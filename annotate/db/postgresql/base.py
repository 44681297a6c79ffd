"""Django's PostgreSQL backend, with the health check where it can find
something and the labelling loop's statements prepared.

CONN_HEALTH_CHECKS pings the server (SELECT 1) before each request's first
query: one round trip in ten of a claim+submit loop, on a connection that
answered a moment before. A connection is pinged here only when it has been
unused for IDLE_SECONDS, the connections that a proxy, a firewall or the
server's idle timeout may have dropped. A restart of the server inside that
time is met by one request per connection, answered 503 with Retry-After
(annotate.middleware.DatabaseUnavailableMiddleware); Django closes the
broken connection at that request's end and the next one connects again.

Django binds parameters on the client, so PostgreSQL parses and plans every
statement at every execution: in the loop bench, planning was a third of
PostgreSQL's CPU (perf), 0.1-0.4 ms for each of the loop's joins
(pg_stat_statements). `prepared_cursor()` binds on the server instead, and
psycopg prepares each of its statements on the connection the first time
(prepare_threshold 0; psycopg's cache, of 100, deallocates the oldest and
starts again after a rollback), so a persistent connection plans each once.
Django's own cursors still bind on the client, which never prepares.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.backends.postgresql import base

IDLE_SECONDS = 10.0


class DatabaseWrapper(base.DatabaseWrapper):
    used_at = float("-inf")
    _server_binding = False

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        if params.get("prepare_threshold") is None:
            params["prepare_threshold"] = 0
        return params

    def _cursor(self, name: str | None = None) -> Any:
        if time.monotonic() - self.used_at < IDLE_SECONDS:
            self.health_check_done = True  # used a moment ago: no ping
        cursor = super()._cursor(name)  # type: ignore[misc]  # untyped in django-stubs
        self.used_at = time.monotonic()
        return cursor

    def prepared_cursor(self) -> Any:
        """A cursor (wrapped as Django wraps its own: logged, errors
        translated) whose statements are prepared on the server, for fixed
        SQL whose parameters PostgreSQL can type from their context."""
        self._server_binding = True
        try:
            return self.cursor()
        finally:
            self._server_binding = False

    def create_cursor(self, name: str | None = None) -> Any:
        if not self._server_binding or name:
            return super().create_cursor(name)
        # Django's cursor set-up (its time zone loader) with psycopg's cursor
        # that binds on the server.
        factory = self.connection.cursor_factory
        self.connection.cursor_factory = base.ServerBindingCursor
        try:
            return super().create_cursor(name)
        finally:
            self.connection.cursor_factory = factory
