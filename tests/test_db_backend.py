"""The PostgreSQL backend (annotate/db/postgresql) pings a kept connection
only after it has been idle: a connection cut a moment after it answered
costs one 503, one cut while idle costs nothing. The labelling loop's
statements are prepared once per connection."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from annotate import rawsql
from annotate.db.postgresql.base import IDLE_SECONDS
from annotate.services.tokens import api_token_create
from tests.factories import ItemFactory

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


def test_the_loops_statements_are_planned_once_per_connection(project, annotator):
    ItemFactory.create_batch(5, project=project)
    _, key = api_token_create(user=annotator, name="pipeline", now=timezone.now())
    api = APIClient(headers={"Authorization": f"Token {key}"})
    values = {
        "request_harm": "benign",
        "refusal_type": "none",
        "appropriateness": "appropriate_compliance",
    }
    for _ in range(3):
        claim = api.post(f"/api/projects/{project.pk}/claim/").json()
        stored = api.post(
            f"/api/assignments/{claim['id']}/annotation/",
            {"values": values, "client_uuid": str(uuid.uuid4())},
            format="json",
        )
        assert stored.status_code == 201

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements"
        )
        prepared = cursor.fetchall()
    # Each prepared once and run at every request: the token's at each of
    # the six, the claim's and the submit's at each of three.
    token = [n for sql, n in prepared if f"FROM {rawsql.TOKEN_T}" in sql]
    submit = [n for sql, n in prepared if sql.lstrip().startswith("WITH ins AS")]
    assert (token, submit) == ([6], [3])
    assert len(prepared) >= 7
    assert {n for _, n in prepared} <= {3, 6}
