"""The database made unreachable for real, for the connections other threads
open from now on: PostgreSQL at a port nobody listens on, SQLite at a file
that cannot be opened. On PostgreSQL the other connections to the test
database (a live server's kept ones) are cut too, as a restart cuts them.
The test's own connection (and its transaction) is left alone, so what the
request could not write can be checked after."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connection, connections


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # free again once closed: a connect is refused


@contextmanager
def database_unreachable() -> Iterator[None]:
    # Every thread's new connection is made from this one dict.
    settings_dict = connections.settings[DEFAULT_DB_ALIAS]
    if connection.vendor == "postgresql":
        key, broken = "PORT", str(closed_port())
    else:
        key, broken = "NAME", "/nonexistent/dir/db.sqlite3"
    saved = settings_dict[key]
    settings_dict[key] = broken
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    try:
        yield
    finally:
        settings_dict[key] = saved
