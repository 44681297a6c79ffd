"""The database made unreachable for real, for the connections other threads
open from now on: PostgreSQL at a port nobody listens on, SQLite at a file
that cannot be opened. The test's own connection (and its transaction) is
left alone, so what the request could not write can be checked after."""

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
    try:
        yield
    finally:
        settings_dict[key] = saved
