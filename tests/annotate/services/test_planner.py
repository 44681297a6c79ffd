"""Bulk jobs leave the planner's statistics current (services.planner): the
tables they wrote are analysed after their commit, unless what they wrote is
small against the table. Seen through pg_class.reltuples, the row count the
last ANALYZE took, which rolls back with the test."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from annotate.models import Allocation, Batch, Item, JobKind, JobStatus
from annotate.services.assignments import batch_create
from annotate.services.jobs import job_run
from annotate.services.learning import queue_job_create
from annotate.services.planner import tables_analyze
from tests.annotate.services.test_transcripts_import import jsonl, record, run_import
from tests.factories import ProjectFactory, items_bulk
from tests.labelling import new_annotator

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def counted(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table]
        )
        return float(cursor.fetchone()[0])


def analyse(*tables: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(tables)}")


def test_an_import_analyses_the_tables_it_wrote(django_capture_on_commit_callbacks):
    project = ProjectFactory()
    analyse("annotate_item", "annotate_transcript")

    with django_capture_on_commit_callbacks(execute=True):
        run_import(project, jsonl(*(record(n) for n in range(60))))

    assert counted("annotate_item") == 60
    assert counted("annotate_transcript") == 60


def test_nothing_is_analysed_before_the_commit(django_capture_on_commit_callbacks):
    project = ProjectFactory()
    analyse("annotate_item")

    with django_capture_on_commit_callbacks() as callbacks:
        run_import(project, jsonl(*(record(n) for n in range(60))))

    assert counted("annotate_item") == 0
    assert len(callbacks) == 1


def test_a_write_small_against_its_table_is_left_alone(
    django_capture_on_commit_callbacks,
):
    project = ProjectFactory()
    items_bulk(project, 2000)
    analyse("annotate_item")
    items_bulk(project, 300)

    # Autovacuum's rule: 50 rows and a tenth of the table.
    with django_capture_on_commit_callbacks(execute=True):
        tables_analyze(written={Item: 249})
    assert counted("annotate_item") == 2000
    with django_capture_on_commit_callbacks(execute=True):
        tables_analyze(written={Item: 250})
    assert counted("annotate_item") == 2300


def test_a_rescore_analyses_the_queue(django_capture_on_commit_callbacks):
    project = ProjectFactory(queue_strategy="random")
    items_bulk(project, 100)
    analyse("annotate_item")
    items_bulk(project, 100)
    job = queue_job_create(
        project=project, kind=JobKind.RESCORE, created_by=None, now=timezone.now()
    )

    with django_capture_on_commit_callbacks(execute=True):
        job = job_run(job_id=job.pk, now=timezone.now)

    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert counted("annotate_item") == 200


def test_a_batch_analyses_allocations_and_items(django_capture_on_commit_callbacks):
    project = ProjectFactory(overlap=2)
    items_bulk(project, 100)
    new_annotator(project, "ann")
    analyse("annotate_item", "annotate_allocation")

    with django_capture_on_commit_callbacks(execute=True):
        batch_create(
            project=project,
            name="b",
            selection={},
            usernames=["ann"],
            mode=Batch.Mode.EACH,
            created_by=None,
            now=timezone.now(),
        )

    assert counted("annotate_allocation") == Allocation.objects.count() == 100
