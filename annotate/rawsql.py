"""The hand-written SQL of the labelling loop, in one place: token
authentication and the access checks every labelling request makes, the
claim, the submit and the progress figures; and the reviewer's claim, whose
conditional upsert the ORM cannot write.

Why not the ORM: its query compiler costs more CPU than everything else in
those requests together (about 0.7 ms a query here, against 0.05 ms for the
statement itself; bench/queue.py), and these run on every labelling step.
Everything else goes through the ORM. Tables and statuses come from the
models, so a rename cannot leave a statement behind; `Columns` lists a
model's columns for a SELECT and turns that slice of a row back into an
instance with the same value conversions the ORM applies, on PostgreSQL and
SQLite alike.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, cast

from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import connection, models
from django.db.backends.utils import CursorWrapper

from annotate.models import (
    Allocation,
    AllocationState,
    Annotation,
    ApiToken,
    Assignment,
    AssignmentStatus,
    GoldQuestion,
    Item,
    Membership,
    Project,
    ReviewClaim,
    Transcript,
)
from labelsets.models import LabelSet, LabelSetVersion

Converter = Callable[[Any, Any, Any], Any]


class Columns[M: models.Model]:
    """The concrete columns of `model` (less `exclude`) under a table alias."""

    def __init__(
        self, model: type[M], alias: str, *, exclude: Collection[str] = ()
    ) -> None:
        self.model = model
        self.fields = [
            f for f in model._meta.concrete_fields if f.attname not in exclude
        ]
        self.attnames = [f.attname for f in self.fields]
        self.sql = ", ".join(f'{alias}."{f.column}"' for f in self.fields)
        self.width = len(self.fields)
        self._converters: list[tuple[int, list[Converter], Any]] | None = None

    def _converters_for_connection(self) -> list[tuple[int, list[Converter], Any]]:
        # Built on first use, when the connection's backend is known; the
        # same lists the compiler builds (backend converters, then the field's).
        if self._converters is None:
            table = self.model._meta.db_table
            found = []
            for i, field in enumerate(self.fields):
                col = field.get_col(table)
                convs = [
                    *connection.ops.get_db_converters(col),
                    *col.get_db_converters(connection),
                ]
                if convs:
                    found.append((i, convs, col))
            self._converters = found
        return self._converters

    def load(self, row: Sequence[Any], start: int = 0) -> M:
        """The instance held by row[start:start + width]."""
        values = list(row[start : start + self.width])
        for i, convs, col in self._converters_for_connection():
            for convert in convs:
                values[i] = convert(values[i], col, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


def for_update(sql: str, lock: str) -> str:
    """`sql` with a row-locking clause on PostgreSQL; SQLite has none (and
    needs none: it serialises writers)."""
    return f"{sql} {lock}" if connection.vendor == "postgresql" else sql


def prepared_cursor() -> CursorWrapper:
    """A cursor for the labelling loop's fixed statements: prepared on
    PostgreSQL, planned once per connection (annotate.db.postgresql says
    why); Django's cursor on SQLite."""
    if connection.vendor == "postgresql":
        cursor: CursorWrapper = cast(Any, connection).prepared_cursor()
        return cursor
    return connection.cursor()


# The claim's plan must not depend on the statistics: told that a project
# has a handful of items (statistics from before its import), PostgreSQL
# reads all of them by the project's foreign-key index and sorts them,
# 215 ms at 100,000 items against 0.07 ms for the queue index's ordered scan
# (test_claim_plan). No shape of the query rules that out: every index led
# by the project, the queue index too (by a bitmap scan), offers "all its
# items, then sort", and other queries need the foreign-key index. So the
# statement runs with sorts and sequential scans priced out, which leaves
# the ordered scan of item_queue_idx and index probes for the joins; both
# settings are set back after it. The three statements go in one round trip
# (psycopg's pipeline), prepared like the loop's others (prepared_cursor): the
# server plans the query between the two, whether for one run, for its
# generic plan or again after ANALYZE invalidated it.
_PIN = "SELECT set_config('enable_sort', 'off', true), set_config('enable_seqscan', 'off', true)"
_UNPIN = "SET LOCAL enable_sort TO DEFAULT"
_UNPIN_TOO = "SET LOCAL enable_seqscan TO DEFAULT"


def execute_pinned(cursor: CursorWrapper, sql: str, params: Sequence[Any]) -> None:
    """Execute `sql` (a query ordered by an index) with its plan pinned to
    index scans on PostgreSQL, leaving `cursor` (a prepared_cursor) on its
    rows."""
    if connection.vendor != "postgresql":
        cursor.execute(sql, params)
        return
    with (
        connection.wrap_database_errors,
        prepared_cursor() as settings,
        cast(Any, connection).connection.pipeline(),
    ):
        settings.execute(_PIN)
        cursor.execute(sql, params)
        settings.execute(_UNPIN)
        settings.execute(_UNPIN_TOO)


ANNOTATION_T = Annotation._meta.db_table
TOKEN_T = ApiToken._meta.db_table
USER_T = User._meta.db_table
ASSIGNMENT_T = Assignment._meta.db_table
ITEM_T = Item._meta.db_table
LABEL_SET_T = LabelSet._meta.db_table
MEMBERSHIP_T = Membership._meta.db_table
PROJECT_T = Project._meta.db_table
TRANSCRIPT_T = Transcript._meta.db_table
REVIEW_CLAIM_T = ReviewClaim._meta.db_table
SESSION_T = Session._meta.db_table
VERSION_T = LabelSetVersion._meta.db_table
LIVE = AssignmentStatus.LIVE.value
SUBMITTED = AssignmentStatus.SUBMITTED.value
EXPIRED = AssignmentStatus.EXPIRED.value

# Token authentication (authentication.py says why it is not DRF's own).
# The key's hash (services.tokens.api_token_hash) is looked up through its
# unique index; a revoked token is not found.
TOKEN = Columns(ApiToken, "t", exclude={"key_hash"})
USER = Columns(User, "u")
TOKEN_SQL = f"""
    SELECT {TOKEN.sql}, {USER.sql} FROM {TOKEN_T} t
    JOIN {USER_T} u ON u.id = t.user_id
    WHERE t.key_hash = %s AND t.revoked_at IS NULL"""  # noqa: S608 - fixed SQL, no input

# A page's session and its user (annotate.sessions, annotate.authentication).
SESSION_SQL = f"""
    SELECT session_data FROM {SESSION_T}
    WHERE session_key = %s AND expire_date > %s"""  # noqa: S608 - fixed SQL, no input
USER_SQL = f"""
    SELECT {USER.sql} FROM {USER_T} u WHERE u.id = %s"""  # noqa: S608 - fixed SQL, no input

# Access checks: one joined query each for the two checks every labelling
# request makes. The schema is not read: it comes parsed from the process
# cache (LabelSetVersion.schema).
MEMBERSHIP = Columns(Membership, "m")
PROJECT = Columns(Project, "p")
VERSION = Columns(LabelSetVersion, "v", exclude={"schema_data"})
LABEL_SET = Columns(LabelSet, "ls")
ASSIGNMENT = Columns(Assignment, "a")
_MEMBER_JOINS = f"""
    JOIN {PROJECT_T} p ON p.id = m.project_id
    JOIN {VERSION_T} v ON v.id = p.label_set_version_id
    JOIN {LABEL_SET_T} ls ON ls.id = v.label_set_id"""
MEMBERSHIP_SQL = f"""
    SELECT {MEMBERSHIP.sql}, {PROJECT.sql}, {VERSION.sql}, {LABEL_SET.sql}
    FROM {MEMBERSHIP_T} m {_MEMBER_JOINS}
    WHERE m.project_id = %s AND m.user_id = %s AND m.is_active"""  # noqa: S608 - fixed SQL, no input
ASSIGNMENT_SQL = f"""
    SELECT {ASSIGNMENT.sql}, {MEMBERSHIP.sql}, {PROJECT.sql}, {VERSION.sql},
        {LABEL_SET.sql}
    FROM {ASSIGNMENT_T} a
    JOIN {MEMBERSHIP_T} m
        ON m.project_id = a.project_id AND m.user_id = a.annotator_id AND m.is_active
    {_MEMBER_JOINS}
    WHERE a.id = %s AND a.annotator_id = %s"""  # noqa: S608 - fixed SQL, no input


def membership_from(row: Sequence[Any], start: int) -> Membership:
    """The membership at row[start:], with its project, version and label set."""
    membership = MEMBERSHIP.load(row, start)
    start += MEMBERSHIP.width
    project = PROJECT.load(row, start)
    start += PROJECT.width
    version = VERSION.load(row, start)
    version.label_set = LABEL_SET.load(row, start + VERSION.width)
    project.label_set_version = version
    membership.project = project
    return membership


# No claim of the annotator (param: annotator id) on the item, labelled or
# skipped; an expired claim of theirs does not count, so the item can come
# back to them.
_UNCLAIMED = f"""
    NOT EXISTS (
        SELECT 1 FROM {ASSIGNMENT_T} a
        WHERE a.item_id = i.transcript_id AND a.annotator_id = %s
            AND a.status <> '{EXPIRED}')"""  # noqa: S608 - fixed SQL, no input
# Items open to the annotator in the pool (params: project id, annotator
# id): a free slot beyond those reserved for the annotators the item is
# allocated to, and unclaimed by them. `slots_left > 0` stays for the
# planner: it is the partial index's condition.
_OPEN = f"""
    i.project_id = %s AND i.slots_left > 0 AND i.slots_left > i.reserved
    AND {_UNCLAIMED}"""
# The annotator's queue in one stream (params: project id, annotator id,
# audit): the strategy's (audit false) or the exploration sample's (true),
# the one place the claim order lives.
QUEUE_WHERE = f"{_OPEN} AND i.audit = %s"
# Most informative first (the exploration sample's priorities are random).
# transcript_id breaks ties so the order is total (concurrent claimers agree
# on it), and the partial index item_queue_idx (project, audit, -priority,
# transcript) WHERE slots_left > 0 serves it without a sort, however many
# items are full.
QUEUE_ORDER = "ORDER BY i.priority DESC, i.transcript_id"
# Annotator care (services.care): the queue of an annotator past the
# project's cap on items with a content warning leaves those out. A filter
# on the rows the index scan reads, so the order and the plan stay
# QUEUE_WHERE's (test_claim_plan); it reads past the flagged ones.
UNFLAGGED = "AND NOT i.distressing"

# The claim.
ITEM = Columns(Item, "i")
TRANSCRIPT = Columns(Transcript, "t")
LIVE_SQL = f"""
    SELECT {ASSIGNMENT.sql}, {ITEM.sql}, {TRANSCRIPT.sql}
    FROM {ASSIGNMENT_T} a
    JOIN {ITEM_T} i ON i.transcript_id = a.item_id
    JOIN {TRANSCRIPT_T} t ON t.id = a.item_id
    WHERE a.project_id = %s AND a.annotator_id = %s AND a.status = '{LIVE}'"""  # noqa: S608 - fixed SQL, no input
NEXT_ITEM_SQL = f"""
    SELECT {ITEM.sql}, {TRANSCRIPT.sql}
    FROM {ITEM_T} i JOIN {TRANSCRIPT_T} t ON t.id = i.transcript_id
    WHERE {QUEUE_WHERE} {QUEUE_ORDER} LIMIT 1"""  # noqa: S608 - fixed SQL, no input
NEXT_UNFLAGGED_ITEM_SQL = f"""
    SELECT {ITEM.sql}, {TRANSCRIPT.sql}
    FROM {ITEM_T} i JOIN {TRANSCRIPT_T} t ON t.id = i.transcript_id
    WHERE {QUEUE_WHERE} {UNFLAGGED} {QUEUE_ORDER} LIMIT 1"""  # noqa: S608 - fixed SQL, no input
# SKIP LOCKED: concurrent claimers step over an item being claimed instead of
# queueing behind its lock, so nobody waits and nothing is over-filled (the
# lock re-checks slots_left > 0 on the row's newest version). NO KEY: the
# lock still lets others insert rows that point at the item (annotations,
# claims), whose foreign-key checks would otherwise wait on it and close
# deadlock cycles. OF i: the transcript row is not locked.
NEXT_ITEM_LOCK = "FOR NO KEY UPDATE OF i SKIP LOCKED"
# Is anything open to the annotator at all, locked or not (params: project
# id, annotator id): asked only when the locking read found nothing.
OPEN_SQL = f"SELECT 1 FROM {ITEM_T} i WHERE {_OPEN} LIMIT 1"  # noqa: S608 - fixed SQL, no input
OPEN_UNFLAGGED_SQL = (
    f"SELECT 1 FROM {ITEM_T} i WHERE {_OPEN} AND NOT i.distressing LIMIT 1"  # noqa: S608 - fixed SQL, no input
)
# The assigned stream (params: project id, annotator id, annotator id): the
# annotator's pending allocations, most informative first, each holding a
# reserved slot of its item. The lock waits rather than skips: these rows
# are this annotator's alone, held by others only for a claim's few
# milliseconds (the item's other claimers) or a manager's move, and nobody
# else can serve them, so skipping would tell the annotator their queue is
# empty while their own work waits.
ALLOCATION_T = Allocation._meta.db_table
PENDING = AllocationState.PENDING.value
_ASSIGNED_ITEM = f"""
    SELECT {ITEM.sql}, {TRANSCRIPT.sql}, al.id
    FROM {ALLOCATION_T} al
    JOIN {ITEM_T} i ON i.transcript_id = al.item_id
    JOIN {TRANSCRIPT_T} t ON t.id = i.transcript_id
    WHERE al.project_id = %s AND al.annotator_id = %s AND al.state = '{PENDING}'
        AND i.reserved > 0 AND {_UNCLAIMED}"""  # noqa: S608 - fixed SQL, no input
ASSIGNED_ITEM_SQL = f"{_ASSIGNED_ITEM} {QUEUE_ORDER} LIMIT 1"
ASSIGNED_UNFLAGGED_ITEM_SQL = f"{_ASSIGNED_ITEM} {UNFLAGGED} {QUEUE_ORDER} LIMIT 1"
ASSIGNED_ITEM_LOCK = "FOR NO KEY UPDATE OF i, al"
# Claiming an allocation: its reserved slot becomes the claim's.
TAKE_RESERVED_SLOT_SQL = f"""
    UPDATE {ITEM_T} SET slots_left = slots_left - 1, reserved = reserved - 1
    WHERE transcript_id = %s"""  # noqa: S608 - fixed SQL, no input
ALLOCATION_CLAIMED_SQL = f"""
    UPDATE {ALLOCATION_T} SET state = '{AllocationState.CLAIMED.value}'
    WHERE id = %s"""  # noqa: S608 - fixed SQL, no input
ASSIGNED_OPEN_SQL = f"""
    UPDATE {MEMBERSHIP_T} SET assigned_open = assigned_open + %s
    WHERE project_id = %s AND user_id = %s"""  # noqa: S608 - fixed SQL, no input
# When the stream finds nothing although the counter says otherwise (its
# items filled up or were moved meanwhile): the true number.
ASSIGNED_RECOUNT_SQL = f"""
    UPDATE {MEMBERSHIP_T} SET assigned_open = (
        SELECT COUNT(*) FROM {ALLOCATION_T} al
        WHERE al.project_id = %s AND al.annotator_id = %s AND al.state = '{PENDING}')
    WHERE project_id = %s AND user_id = %s"""  # noqa: S608 - fixed SQL, no input
# A gold question for the annotator (params: project id, annotator id): one
# they have not been served; no slot is taken, since its answer is no label.
QUESTION_T = GoldQuestion._meta.db_table
CHECK_ITEM_SQL = f"""
    SELECT {ITEM.sql}, {TRANSCRIPT.sql}
    FROM {QUESTION_T} q
    JOIN {ITEM_T} i ON i.transcript_id = q.item_id
    JOIN {TRANSCRIPT_T} t ON t.id = i.transcript_id
    WHERE q.project_id = %s AND {_UNCLAIMED}
    ORDER BY q.item_id LIMIT 1"""  # noqa: S608 - fixed SQL, no input
TAKE_SLOT_SQL = (
    f"UPDATE {ITEM_T} SET slots_left = slots_left - 1 WHERE transcript_id = %s"  # noqa: S608 - fixed SQL, no input
)
# An expired claim of this annotator on the item is reused (one row per pair).
CLAIM_SQL = f"""
    INSERT INTO {ASSIGNMENT_T}
        (item_id, project_id, annotator_id, status, claimed_at, expires_at, skip_reason,
         chosen_by, score, probability, prelabels)
    VALUES (%s, %s, %s, '{LIVE}', %s, %s, '', %s, %s, %s, %s)
    ON CONFLICT (item_id, annotator_id) DO UPDATE SET status = '{LIVE}',
        claimed_at = excluded.claimed_at, expires_at = excluded.expires_at,
        skip_reason = '', skip_kind = '', chosen_by = excluded.chosen_by,
        score = excluded.score,
        probability = excluded.probability, prelabels = excluded.prelabels
    RETURNING id"""  # noqa: S608 - fixed SQL, no input

# The submit.
ANNOTATION = Columns(Annotation, "n")
# The claim row's lock makes a double submit take turns: the second one sees
# status submitted.
CLAIM_STATUS_SQL = f"SELECT status FROM {ASSIGNMENT_T} WHERE id = %s"  # noqa: S608 - fixed SQL, no input
CLAIM_STATUS_LOCK = "FOR UPDATE"
SUBMITTED_SQL = f"""
    SELECT {ANNOTATION.sql} FROM {ANNOTATION_T} n
    WHERE n.item_id = %s AND n.annotator_id = %s"""  # noqa: S608 - fixed SQL, no input
# The columns ANNOTATE_SQL inserts, in its order.
ANNOTATION_INSERT = [
    f
    for name in (
        "item_id",
        "annotator_id",
        "label_set_version_id",
        "values",
        "seconds_spent",
        "prelabels",
        "client_uuid",
        "created_at",
        "updated_at",
    )
    for f in Annotation._meta.concrete_fields
    if f.attname == name
]
ANNOTATE_SQL = f"""
    INSERT INTO {ANNOTATION_T} ({", ".join(f'"{f.column}"' for f in ANNOTATION_INSERT)})
    VALUES ({", ".join(["%s"] * len(ANNOTATION_INSERT))})
    ON CONFLICT DO NOTHING
    RETURNING id"""  # noqa: S608 - fixed SQL, no input
MARK_SUBMITTED_SQL = f"UPDATE {ASSIGNMENT_T} SET status = '{SUBMITTED}' WHERE id = %s"  # noqa: S608 - fixed SQL, no input
# The counters progress reads, so no request counts rows; and, in the same
# statement, the rescoring owed once the item has its param-th label
# (services.deferred).
_COUNT_ITEM_SET = f"""{ITEM_T} SET annotations_count = annotations_count + 1,
        rescore_due = rescore_due OR annotations_count + 1 >= %s"""
COUNT_ITEM_SQL = f"""
    UPDATE {_COUNT_ITEM_SET}
    WHERE transcript_id = %s RETURNING annotations_count, distressing"""  # noqa: S608 - fixed SQL, no input
# RETURNING: the counters as written, for the claim that follows in the
# same request (its membership was loaded before this submit), and the
# label times of flagged items as they are under the row's lock.
_COUNT_MEMBER_SET = f"""{MEMBERSHIP_T} SET annotations_count = annotations_count + 1,
        today_count = CASE WHEN today = %s THEN today_count + 1 ELSE 1 END,
        today = %s, last_active_at = %s"""
COUNT_MEMBER_SQL = f"""
    UPDATE {_COUNT_MEMBER_SET}
    WHERE project_id = %s AND user_id = %s
    RETURNING annotations_count, today_count, flagged_recent"""  # noqa: S608 - fixed SQL, no input
FLAGGED_RECENT = Membership._meta.get_field("flagged_recent")


_FLAGGED_RECENT_COL = FLAGGED_RECENT.get_col(MEMBERSHIP_T)


def flagged_recent_load(value: Any) -> list[float]:
    """COUNT_MEMBER_SQL's flagged_recent as the model holds it (jsonb comes
    as text from psycopg here, as from SQLite)."""
    loaded: list[float] = FLAGGED_RECENT.from_db_value(
        value, _FLAGGED_RECENT_COL, connection
    )
    return loaded


FLAGGED_RECENT_SQL = f"""
    UPDATE {MEMBERSHIP_T} SET flagged_recent = %s
    WHERE project_id = %s AND user_id = %s"""  # noqa: S608 - fixed SQL, no input
# The item's label count is compared with the overlap in the project row, and
# the row must not be archived: both read under its lock, so a settings change
# or an archive committed meanwhile is seen (no row back: archived).
_COUNT_PROJECT_SET = f"""{PROJECT_T} SET annotations_total = annotations_total + 1,
        items_complete = items_complete + CASE WHEN overlap = {{count}} THEN 1 ELSE 0 END"""
COUNT_PROJECT_SQL = f"""
    UPDATE {_COUNT_PROJECT_SET.format(count="%s")}
    WHERE id = %s AND archived_at IS NULL RETURNING annotations_total"""  # noqa: S608 - fixed SQL, no input
# On PostgreSQL the whole of a submit's writes in one statement, one round
# trip for five (ANNOTATE_SQL, then MARK_SUBMITTED_SQL and the three counts,
# each done only when the annotation went in; no row back when it did not).
# The project's UPDATE joins the item's and the member's results, so it takes
# its row's lock after theirs, as the separate statements do: never while
# waiting on another row. Params: ANNOTATE_SQL's, the assignment,
# COUNT_ITEM_SQL's, COUNT_MEMBER_SQL's, the project.
SUBMIT_SQL = f"""
    WITH ins AS ({ANNOTATE_SQL}),
    asg AS (
        UPDATE {ASSIGNMENT_T} SET status = '{SUBMITTED}'
        WHERE id = %s AND EXISTS (SELECT 1 FROM ins) RETURNING id),
    itm AS (
        UPDATE {_COUNT_ITEM_SET}
        WHERE transcript_id = %s AND EXISTS (SELECT 1 FROM ins)
        RETURNING annotations_count, distressing),
    mem AS (
        UPDATE {_COUNT_MEMBER_SET}
        WHERE project_id = %s AND user_id = %s AND EXISTS (SELECT 1 FROM ins)
        RETURNING annotations_count, today_count, flagged_recent),
    prj AS (
        UPDATE {_COUNT_PROJECT_SET.format(count="itm.annotations_count")}
        FROM itm, mem
        WHERE {PROJECT_T}.id = %s AND archived_at IS NULL
        RETURNING annotations_total)
    SELECT ins.id, itm.annotations_count, itm.distressing, mem.annotations_count,
        mem.today_count, mem.flagged_recent, (SELECT annotations_total FROM prj)
    FROM ins, itm, mem"""  # noqa: S608 - fixed SQL, no input

# Progress: the kept counters and the annotator's queue length, capped.
PROGRESS_SQL = f"""
    SELECT p.items_total, p.items_complete, m.annotations_count,
        CASE WHEN m.today = %s THEN m.today_count ELSE 0 END,
        (SELECT COUNT(*) FROM
            (SELECT 1 FROM {ITEM_T} i WHERE {_OPEN} LIMIT %s) AS mine)
    FROM {MEMBERSHIP_T} m JOIN {PROJECT_T} p ON p.id = m.project_id
    WHERE m.id = %s"""  # noqa: S608 - fixed SQL, no input

# A reviewer's claim on an item of the review queue (services.review; params:
# item, project, reviewer, claimed_at, expires_at, then now). The item's one
# row is taken over only when its lease has run out or it is the reviewer's
# own; otherwise nothing is returned and the item is someone else's. ON
# CONFLICT sees the row's newest committed version, even one committed after
# this statement's snapshot, so of two reviewers racing for an item exactly
# one gets it; one still being inserted is waited for.
REVIEW_CLAIM_SQL = f"""
    INSERT INTO {REVIEW_CLAIM_T} (item_id, project_id, reviewer_id, claimed_at, expires_at)
    VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (item_id) DO UPDATE SET project_id = excluded.project_id,
        reviewer_id = excluded.reviewer_id, claimed_at = excluded.claimed_at,
        expires_at = excluded.expires_at
    WHERE {REVIEW_CLAIM_T}.expires_at <= %s
        OR {REVIEW_CLAIM_T}.reviewer_id = excluded.reviewer_id
    RETURNING id"""  # noqa: S608 - fixed SQL, no input
