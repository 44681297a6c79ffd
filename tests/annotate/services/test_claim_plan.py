"""The claim's cost does not grow with the queue: at a million items each
stream's next item is an index scan of the partial queue index, no sort,
and so is it with items with a content warning left out (annotator care)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from annotate import rawsql
from tests.factories import ProjectFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ITEMS = 1_000_000


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += plan_nodes(child)
    return found


def test_the_next_item_of_each_stream_is_an_index_scan_at_a_million_items():
    project = ProjectFactory(overlap=3)
    annotator = UserFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO annotate_transcript (project_id, messages_json, source_model, "
            "dataset, external_id, prompt_group, metadata, content_hash, created_at) "
            "SELECT %s, '[]', '', '', '', '', '{}', lpad(to_hex(g), 64, '0'), now() "
            "FROM generate_series(1, %s) AS g",
            [project.pk, ITEMS],
        )
        # A tenth in the exploration sample, as the default share draws it,
        # and a tenth flagged as distressing.
        cursor.execute(
            "INSERT INTO annotate_item (project_id, transcript_id, priority, audit, "
            "distressing, slots_left, annotations_count, skips_count) "
            "SELECT project_id, id, random(), random() < 0.1, random() < 0.1, 3, 0, 0 "
            "FROM annotate_transcript WHERE project_id = %s",
            [project.pk],
        )
        cursor.execute("ANALYZE annotate_item")
        cursor.execute("ANALYZE annotate_transcript")
        plans: dict[tuple[bool, bool], Any] = {}
        for sql in (rawsql.NEXT_ITEM_SQL, rawsql.NEXT_UNFLAGGED_ITEM_SQL):
            for audit in (False, True):
                cursor.execute(
                    f"EXPLAIN (FORMAT JSON) {sql}", [project.pk, annotator.pk, audit]
                )
                (explained,) = cursor.fetchone()  # psycopg decodes the JSON itself
                unflagged = sql is rawsql.NEXT_UNFLAGGED_ITEM_SQL
                plans[unflagged, audit] = explained[0]["Plan"]

    for stream, plan in plans.items():
        nodes = plan_nodes(plan)
        scans = [n for n in nodes if n.get("Relation Name") == "annotate_item"]
        assert [(n["Node Type"], n.get("Index Name")) for n in scans] == [
            ("Index Scan", "item_queue_idx")
        ], (stream, plan)
        assert not [n for n in nodes if n["Node Type"] == "Sort"], (stream, plan)
