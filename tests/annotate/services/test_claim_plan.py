"""The claim's cost does not grow with the queue: at a million items each
stream's next item is an index scan of the partial queue index, no sort,
and so is it with items with a content warning left out (annotator care).
Nor does it depend on the statistics: on statistics from before a big
import the claim sent is still that scan."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from annotate import rawsql
from annotate.services.queue import item_claim_next
from tests.conftest import skip_or_fail
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ITEMS = 1_000_000
STALE_ITEMS = 50_000


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += plan_nodes(child)
    return found


def items_insert(cursor, project, n: int) -> None:
    """n open items in the project, fast: a tenth in the exploration sample,
    as the default share draws it, and a tenth flagged as distressing."""
    cursor.execute(
        "INSERT INTO annotate_transcript (project_id, messages_json, source_model, "
        "dataset, external_id, prompt_group, metadata, content_hash, created_at) "
        "SELECT %s, '[]', '', '', '', '', '{}', "
        "lpad(to_hex(%s::bigint * 100000000 + g), 64, '0'), now() "
        "FROM generate_series(1, %s) AS g",
        [project.pk, project.pk, n],
    )
    cursor.execute(
        "INSERT INTO annotate_item (project_id, transcript_id, priority, audit, "
        "distressing, slots_left, annotations_count, skips_count) "
        "SELECT project_id, id, random(), random() < 0.1, random() < 0.1, 3, 0, 0 "
        "FROM annotate_transcript WHERE project_id = %s",
        [project.pk],
    )


def test_the_next_item_of_each_stream_is_an_index_scan_at_a_million_items():
    project = ProjectFactory(overlap=3)
    annotator = UserFactory()
    with connection.cursor() as cursor:
        items_insert(cursor, project, ITEMS)
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


def explained(cursor, sql: str, params: list[Any]) -> dict[str, Any]:
    cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
    plan: dict[str, Any] = cursor.fetchone()[0][0]["Plan"]
    return plan


def test_the_claim_is_an_index_scan_on_statistics_from_before_an_import():
    # Statistics taken when the table held one small project; then a big
    # one arrives and nothing analyses it (autovacuum is off here). The
    # statistics roll back with the test.
    small = ProjectFactory(overlap=3)
    project = ProjectFactory(overlap=3)
    membership = MembershipFactory(project=project)
    with connection.cursor() as cursor:
        items_insert(cursor, small, 1000)
        cursor.execute(
            "ANALYZE annotate_item, annotate_transcript, annotate_assignment"
        )
        items_insert(cursor, project, STALE_ITEMS)
        # The premise: left to these statistics, the planner believes the
        # project small and reads it all by the foreign-key index, then sorts.
        sql = rawsql.for_update(rawsql.NEXT_ITEM_SQL, rawsql.NEXT_ITEM_LOCK)
        unpinned = plan_nodes(
            explained(cursor, sql, [project.pk, membership.user_id, False])
        )
        assert [n for n in unpinned if n["Node Type"] == "Sort"], unpinned
        try:
            cursor.execute("LOAD 'auto_explain'")
        except Exception as e:  # not a superuser, or no contrib modules
            skip_or_fail(f"auto_explain is needed to see the claim's plan: {e}")
        for setting, value in (
            ("log_min_duration", "0"),
            ("log_analyze", "on"),
            ("log_buffers", "on"),
            ("log_timing", "off"),
            ("log_format", "json"),
            ("log_level", "notice"),
        ):
            cursor.execute(f"SET LOCAL auto_explain.{setting} = {value}")
    # Every plan the claim's statements ran, as the server executed them.
    notices: list[str] = []

    def keep(diag: Any) -> None:
        notices.append(diag.message_primary or "")

    connection.connection.add_notice_handler(keep)
    try:
        claim = item_claim_next(membership=membership, now=timezone.now())
    finally:
        connection.connection.remove_notice_handler(keep)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL auto_explain.log_min_duration = -1")
            cursor.execute("SHOW enable_sort")
            (enable_sort,) = cursor.fetchone()

    assert claim is not None
    assert claim.item.project_id == project.pk
    plans = [json.loads(n[n.index("{") :]) for n in notices if "plan:" in n]
    queue_plans = [
        p["Plan"] for p in plans if "ORDER BY i.priority DESC" in p["Query Text"]
    ]
    assert len(queue_plans) == 1, plans
    nodes = plan_nodes(queue_plans[0])
    scans = [n for n in nodes if n.get("Relation Name") == "annotate_item"]
    assert [(n["Node Type"], n.get("Index Name")) for n in scans] == [
        ("Index Scan", "item_queue_idx")
    ], queue_plans
    assert not [n for n in nodes if n["Node Type"] == "Sort"], queue_plans
    # It stopped at the head of the queue: a few rows and pages read, not
    # the project's 50,000 (the stale plan read all of them).
    assert scans[0]["Actual Rows"] <= 2, queue_plans
    assert (
        queue_plans[0]["Shared Hit Blocks"] + queue_plans[0]["Shared Read Blocks"] < 50
    )
    # The settings were the statement's alone.
    assert enable_sort == "on"
