"""The PostgreSQL backend pings a kept connection only after it has been idle
(annotate/db/postgresql): a connection cut a moment after it answered costs
one 503, one cut while idle costs nothing."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

from annotate.db.postgresql.base import IDLE_SECONDS

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def cut() -> None:
    """End this connection's server process from another connection, as a
    restart of PostgreSQL or a dropped link would."""
    pid = connection.connection.info.backend_pid
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres"
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def next_request() -> None:
    """What Django does between two requests (the test client does not)."""
    connection.close_if_unusable_or_obsolete()


def test_a_connection_cut_while_idle_is_pinged_and_opened_again(client, annotator):
    client.force_login(annotator)
    assert client.get("/api/projects/").status_code == 200
    cut()
    connection.used_at -= IDLE_SECONDS + 1  # type: ignore[attr-defined]  # ours

    next_request()
    r = client.get("/api/projects/")

    assert r.status_code == 200


def test_a_connection_cut_just_after_it_answered_costs_one_503(client, annotator):
    client.force_login(annotator)
    assert client.get("/api/projects/").status_code == 200
    cut()
    time.sleep(0.1)  # the server process has gone

    next_request()
    failed = client.get("/api/projects/")
    next_request()  # the broken connection is dropped here
    again = client.get("/api/projects/")

    assert failed.status_code == 503
    assert failed.json()["detail"]
    assert again.status_code == 200
