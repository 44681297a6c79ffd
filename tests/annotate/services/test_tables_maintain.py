"""Autovacuum's work where the server does none (services.planner): tables
past its thresholds are vacuumed and analysed, and a prepared statement's
generic plan, made on an empty table, is remade once the table has grown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from annotate import tasks
from annotate.models import Assignment, AssignmentStatus
from annotate.services.planner import tables_due, tables_maintain
from tests.factories import ProjectFactory, UserFactory, items_bulk


def test_the_thresholds_are_autovacuums():
    stats = [
        # table, dead rows, changed since ANALYZE, rows at the last ANALYZE
        ("big", 250, 150, 1000.0),  # exactly at both: nothing
        ("dead", 251, 0, 1000.0),
        ("changed", 0, 151, 1000.0),
        ("new", 0, 51, -1.0),  # never analysed: counted as empty
        ("quiet", 10, 10, 0.0),
    ]

    assert tables_due(stats) == [
        ("changed", False, True),
        ("dead", True, False),
        ("new", False, True),
    ]


def _autovacuum_off() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] == "on":
            pytest.skip("this PostgreSQL runs autovacuum: tables_maintain leaves it be")


def _generic_plan(cursor) -> str:
    cursor.execute("EXPLAIN EXECUTE probe(1)")
    return " ".join(row[0] for row in cursor.fetchall())


def _flushed() -> None:
    """This backend's pending table statistics in shared memory, as another
    session (beat's task) would see them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claims_table_that_grew_is_analysed_and_its_prepared_plans_remade():
    _autovacuum_off()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE annotate_assignment")
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute(
            "PREPARE probe(bigint) AS SELECT status FROM annotate_assignment WHERE id = $1"
        )
        try:
            assert "Seq Scan" in _generic_plan(cursor)  # an empty table
            project = ProjectFactory(overlap=1)
            user = UserFactory()
            now = timezone.now()
            Assignment.objects.bulk_create(
                Assignment(
                    item=item,
                    project=project,
                    annotator=user,
                    status=AssignmentStatus.SUBMITTED,
                    claimed_at=now,
                    expires_at=now + timedelta(hours=1),
                )
                for item in items_bulk(project, 3000)
            )
            assert "Seq Scan" in _generic_plan(cursor)  # kept, however it grew
            _flushed()

            schedule = settings.CELERY_BEAT_SCHEDULE["tables-maintain"]
            assert schedule["task"] == tasks.tables_maintain.name
            # disable_sync_subtasks=False: Celery keeps "inside a task" in one
            # process-wide flag that eager tasks run at once on other threads
            # (the concurrency tests) can leave set, and then get() refuses.
            ran = tasks.tables_maintain.apply().get(disable_sync_subtasks=False)

            # VACUUM (ANALYZE) too if earlier tests left dead rows there.
            assert any("ANALYZE" in s and '"annotate_assignment"' in s for s in ran)
            assert "Index Scan using annotate_assignment_pkey" in _generic_plan(cursor)
        finally:
            cursor.execute("DEALLOCATE probe")
            cursor.execute("RESET plan_cache_mode")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_dead_rows_past_the_threshold_are_vacuumed_and_then_left_alone():
    _autovacuum_off()
    project = ProjectFactory(overlap=1)
    items_bulk(project, 400)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE annotate_item")
    # Every row rewritten: 400 dead versions against 50 + 20% of 400.
    project.items.update(priority=1.0)
    _flushed()

    ran = tables_maintain()

    assert 'VACUUM (SKIP_LOCKED, ANALYZE) "annotate_item"' in ran
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'annotate_item'"
        )
        assert cursor.fetchone()[0] == 0
    _flushed()
    assert not [s for s in tables_maintain() if "annotate_item" in s]
