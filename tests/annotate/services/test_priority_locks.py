"""Locks taken in the order a settings change (projects.project_update) takes
them, so the two cannot deadlock: the queue's priority writes lock items in
key order (seen in CI), and a retrain asked for after a label locks the
project row before its job's (seen in the concurrency tests)."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from annotate.models import Item, Job, JobKind, JobStatus
from annotate.services.learning import _priorities_write, queue_job_create
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
        waiting_on_a_lock(probe, "WITH v(id, priority%")
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


def waiting_on_a_lock(probe: psycopg.Connection, query: str) -> None:
    for _ in range(200):
        waiting = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE %s",
            [query],
        ).fetchone()
        if waiting and waiting[0]:
            return
        threading.Event().wait(0.02)
    pytest.fail(f"nothing waited on a lock in {query}")


def test_a_retrain_asked_for_while_the_settings_change_waits_for_its_project():
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    project = ProjectFactory()
    # A settings change holds the project row, as project_update does...
    change = psycopg.connect(dsn())
    change.execute("SET lock_timeout = '5s'")
    change.execute(
        "SELECT 1 FROM annotate_project WHERE id = %s FOR UPDATE", [project.pk]
    )
    joined: list[Job] = []

    def retrain() -> None:
        try:
            joined.append(
                queue_job_create(
                    project=project,
                    kind=JobKind.RETRAIN,
                    created_by=None,
                    now=timezone.now(),
                )
            )
        finally:
            connection.close()

    asker = threading.Thread(target=retrain)
    asker.start()
    try:
        probe = psycopg.connect(dsn(), autocommit=True)
        # ...when a label asks for a retrain, which waits for the row (before
        # it holds the one-live-job index entry, or at its commit)...
        waiting_on_a_lock(probe, "%")
        probe.close()
        # ...and then queues its rescore: taken at once, no deadlock.
        row = change.execute(
            "INSERT INTO annotate_job (kind, project_id, status, params, stage,"
            " progress_done, result, errors, created_at)"
            " VALUES ('rescore', %s, 'queued', '{}', '', 0, '{}', '[]', now())"
            " RETURNING id",
            [project.pk],
        ).fetchone()
        change.commit()
        assert row is not None
        rescore = row[0]
    finally:
        change.close()
        asker.join(timeout=30)
    assert not asker.is_alive()
    # The retrain joined the rescore the settings change queued.
    assert [j.pk for j in joined] == [rescore]
    assert Job.objects.filter(project=project, status=JobStatus.QUEUED).count() == 1
