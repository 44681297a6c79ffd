"""The queue's priority writes lock items in key order, as a settings change
does (projects.project_update), so the two cannot deadlock (seen in CI)."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection, transaction

from annotate.models import Item
from annotate.services.learning import _priorities_write
from tests.factories import ProjectFactory, TranscriptFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def dsn() -> str:
    s = connection.settings_dict
    return (
        f"host={s['HOST']} port={s['PORT'] or 5432} user={s['USER']} dbname={s['NAME']}"
    )


def test_a_priority_write_waits_on_the_lowest_key_before_locking_a_higher_one():
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    project = ProjectFactory()
    low, high = sorted(
        Item.objects.create(project=project, transcript=t, slots_left=1).pk
        for t in TranscriptFactory.create_batch(2, project=project)
    )
    # Another transaction holds the low item, as a settings change would.
    holder = psycopg.connect(dsn())
    holder.execute(
        "SELECT 1 FROM annotate_item WHERE transcript_id = %s FOR UPDATE", [low]
    )

    def write() -> None:
        try:
            with transaction.atomic():
                # The higher key first in the batch: the join's order would
                # take it first.
                _priorities_write([(high, 0.9, False, None), (low, 0.8, False, None)])
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        probe = psycopg.connect(dsn(), autocommit=True)
        probe.execute("SET lock_timeout = '200ms'")
        # Wait until the writer is blocked on the low row...
        for _ in range(200):
            waiting = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'WITH v(id, priority%%'"
            ).fetchone()
            if waiting and waiting[0]:
                break
            threading.Event().wait(0.02)
        else:
            pytest.fail("the priority write never waited on the held row")
        # ...while the high one is still free: it waits without holding it.
        probe.execute(
            "SELECT 1 FROM annotate_item WHERE transcript_id = %s FOR UPDATE NOWAIT",
            [high],
        )
        probe.close()
    finally:
        holder.rollback()
        holder.close()
        writer.join(timeout=30)
    assert not writer.is_alive()
    assert Item.objects.get(pk=high).priority == pytest.approx(0.9)
