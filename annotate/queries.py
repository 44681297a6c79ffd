"""Reads: QuerySet classes attached to the models, and multi-model selectors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlencode

from django.contrib.auth.models import User
from django.db import connection, models

from labelsets.models import LabelSet

if TYPE_CHECKING:
    # The QuerySet generics name these models in strings; models.py imports this module.
    from annotate.models import (  # noqa: F401
        Annotation,
        ApiToken,
        Assignment,
        AuditEntry,
        Batch,
        Decision,
        Item,
        ItemFlag,
        Job,
        Membership,
        Project,
        SavedSearch,
        Transcript,
    )


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> Self:
        return self.filter(is_active=True)

    def with_activity(self, today: date) -> Self:
        """With their user, `labelled_today` (the kept counter, 0 unless it
        is today's) and `tokens_live` (the user's unrevoked API tokens)."""
        return self.select_related("user").annotate(
            labelled_today=models.Case(
                models.When(today=today, then=models.F("today_count")),
                default=models.Value(0),
            ),
            tokens_live=models.Count(
                "user__api_tokens",
                filter=models.Q(user__api_tokens__revoked_at__isnull=True),
            ),
        )


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def live(self) -> Self:
        """Tokens that still authenticate: not revoked."""
        return self.filter(revoked_at__isnull=True)


class AssignmentQuerySet(models.QuerySet["Assignment"]):
    def stale(self, now: datetime) -> Self:
        """Claims past their lease whose slot has not gone back yet."""
        return self.filter(status="live", expires_at__lte=now)


class JobQuerySet(models.QuerySet["Job"]):
    def for_project(self, project: Project) -> Self:
        return self.filter(project=project).order_by("-created_at")


def agreement_job_for(*, project: Project, params: dict[str, object]) -> Job | None:
    """The newest agreement job of the project computing exactly `params`."""
    from annotate.models import JobKind

    return job_for(project=project, kind=JobKind.AGREEMENT, params=params)


def job_for(
    *,
    project: Project,
    kind: str,
    params: dict[str, object],
    status: str | None = None,
) -> Job | None:
    """The newest job of this kind in the project with exactly `params`
    (and `status`, when given).

    Compared in Python over the project's recent jobs of the kind (a handful),
    not by a JSON lookup, which SQLite and PostgreSQL would compare differently.
    """
    from annotate.models import Job

    jobs = Job.objects.filter(project=project, kind=kind)
    if status is not None:
        jobs = jobs.filter(status=status)
    recent = jobs.order_by("-created_at").only("pk", "params")[:50]
    found = next((job for job in recent if job.params == params), None)
    return Job.objects.get(pk=found.pk) if found else None


def job_live(job: Job) -> Job:
    """The job with its live progress (published through the cache) while it runs."""
    from django.core.cache import cache

    if not job.is_finished and (live := cache.get(job.progress_key)):
        job.progress_done, job.progress_total, job.stage = (
            live["done"],
            live["total"],
            live["stage"],
        )
    return job


@dataclass(frozen=True)
class Progress:
    items_total: int
    items_complete: int
    my_today: int
    my_total: int
    queue_left: int  # capped at QUEUE_LEFT_CAP

    @property
    def percent(self) -> int:
        return (
            round(100 * self.items_complete / self.items_total)
            if self.items_total
            else 0
        )


QUEUE_LEFT_CAP = 1000


def progress_for(*, membership: Membership, now: datetime) -> Progress:
    """Progress from kept counters, plus the annotator's queue length, in one
    statement.

    Read fresh: the caller's membership was loaded before its submit changed
    these counters. The queue length is counted, but capped: at most
    QUEUE_LEFT_CAP open items are read, whatever the project's size.
    """
    from annotate import rawsql  # rawsql imports the models, which import this

    today = connection.ops.adapt_datefield_value(now.date())
    # Prepared: planning it took 0.4-0.8 ms of PostgreSQL's time per page,
    # as much as running it (a generic plan made on stale statistics is
    # remade at beat's next tables-maintain, services.planner).
    with rawsql.prepared_cursor() as cursor:
        cursor.execute(
            rawsql.PROGRESS_SQL,
            [
                today,
                membership.project_id,
                membership.user_id,
                QUEUE_LEFT_CAP,
                membership.pk,
            ],
        )
        total, complete, mine, today_count, queue_left = cursor.fetchone()
    return Progress(
        items_total=total,
        items_complete=complete,
        my_today=today_count,
        my_total=mine,
        queue_left=queue_left,
    )


def adjudication_queue(
    project: Project, *, reviewer_id: int | None = None, now: datetime | None = None
) -> models.QuerySet[Item]:
    """Items for a reviewer to decide, most disagreeing first.

    Items with all their labels whose key field is unresolved (a tie, a
    split) or whose disagreement is above the project's threshold, and that
    no reviewer has decided yet. A decided item leaves the queue, so the
    first item is always the next one to review. With `reviewer_id`, the
    items that reviewer labelled or holds a live claim on are left out:
    labelling stays blind for every role (access.access_review_item); with
    `now` too, so are the items another reviewer holds a live review claim
    on (services.review).
    """
    from annotate.models import Item

    queue = (
        Item.objects.filter(project=project)
        .filter(disputed(project))
        .order_by(models.F("disagreement").desc(nulls_last=True), "transcript_id")
    )
    if reviewer_id is not None:
        queue = queue.exclude(seen_by(reviewer_id))
        if now is not None:
            queue = queue.exclude(review_claimed_by_others(reviewer_id, now))
    return queue


def disputed(project: Project, prefix: str = "") -> models.Q:
    """Items of the review queue (a filter on Item, or on what `prefix`
    leads to it): all their labels in, not decided, and the key field
    unresolved or the disagreement above the project's threshold."""
    return models.Q(
        **{
            f"{prefix}annotations_count__gte": project.overlap,
            f"{prefix}gold__adjudicated": False,
        }
    ) & (
        models.Q(**{f"{prefix}gold__key_resolved": False})
        | models.Q(**{f"{prefix}disagreement__gt": project.disagreement_threshold})
    )


def review_claimed_by_others(reviewer_id: int, now: datetime) -> models.Q:
    """An item another reviewer holds a live review claim on (a filter on Item)."""
    from annotate.models import ReviewClaim

    return models.Q(
        models.Exists(
            ReviewClaim.objects.filter(
                item=models.OuterRef("pk"), expires_at__gt=now
            ).exclude(reviewer_id=reviewer_id)
        )
    )


def seen_by(user_id: int, item: str = "pk") -> models.Q:
    """An item the user labelled or holds a live claim on (a filter on Item,
    or on a model whose field `item` holds the item's id)."""
    from annotate.models import Annotation, Assignment, AssignmentStatus

    return models.Q(
        models.Exists(
            Annotation.objects.filter(item=models.OuterRef(item), annotator_id=user_id)
        )
    ) | models.Q(
        models.Exists(
            Assignment.objects.filter(
                item=models.OuterRef(item),
                annotator_id=user_id,
                status=AssignmentStatus.LIVE,
            )
        )
    )


@dataclass(frozen=True)
class ReviewLabel:
    annotator: str
    values: dict[str, object]
    created_at: datetime
    reliability: float | None  # agreement with the leave-one-out majority, key field


@dataclass(frozen=True)
class ReviewItem:
    item: Item
    gold: dict[str, Any]
    labels: list[ReviewLabel]
    siblings: list[tuple[Transcript, dict[str, Any]]]  # same prompt group, their gold
    decisions: list[Decision]


def review_item(*, project: Project, item_id: int) -> ReviewItem | None:
    """Everything the review screen shows for one item of the project.

    Reliability comes from the project's latest agreement figures (none until
    they are computed): each annotator's agreement with the others' majority
    on the key field.
    """
    from annotate.models import (
        Annotation,
        Decision,
        Gold,
        Item,
        Job,
        JobKind,
        Transcript,
    )

    item = (
        Item.objects.filter(project=project, pk=item_id)
        .select_related("transcript", "project__label_set_version")
        .first()
    )
    if item is None:
        return None
    gold = Gold.objects.filter(item=item).values_list("values", flat=True).first()
    latest = (
        Job.objects.filter(project=project, kind=JobKind.AGREEMENT, status="succeeded")
        .order_by("-finished_at")
        .values_list("result", flat=True)
        .first()
    )
    reliability: dict[int, float | None] = {}
    if latest:
        key = latest.get("key_field")
        for row in latest.get("annotators", []):
            share = row.get("majority_agreement", {}).get(key, {}).get("share")
            reliability[row["id"]] = share
    labels = [
        ReviewLabel(
            annotator=a.annotator.username,
            values=a.values,
            created_at=a.created_at,
            reliability=reliability.get(a.annotator_id),
        )
        for a in Annotation.objects.filter(item=item, is_human=True)
        .select_related("annotator")
        .order_by("created_at")
    ]
    siblings: list[tuple[Transcript, dict[str, Any]]] = []
    if group := item.transcript.prompt_group:
        others = (
            Transcript.objects.filter(project=project, prompt_group=group)
            .exclude(pk=item.pk)
            .select_related("item__gold")
            .order_by("pk")[:20]
        )
        for t in others:
            sibling_gold = getattr(getattr(t, "item", None), "gold", None)
            siblings.append((t, sibling_gold.values if sibling_gold else {}))
    return ReviewItem(
        item=item,
        gold=gold or {},
        labels=labels,
        siblings=siblings,
        decisions=list(
            Decision.objects.filter(item=item)
            .select_related("reviewer")
            .order_by("-number")
        ),
    )


def active_members(
    project: Project, *, everyone: bool = False
) -> models.QuerySet[Membership]:
    """The project's active members (with everyone, all), by username, with
    their users."""
    from annotate.models import Membership

    members = Membership.objects.filter(project=project)
    if not everyone:
        members = members.filter(is_active=True)
    return members.select_related("user").order_by("user__username")


def batches_of(project: Project) -> models.QuerySet[Batch]:
    """The project's batches, newest first."""
    from annotate.models import Batch

    return Batch.objects.filter(project=project).order_by("-created_at", "-pk")


def saved_searches_of(project: Project) -> models.QuerySet[SavedSearch]:
    """The project's saved searches, by name."""
    from annotate.models import SavedSearch

    return SavedSearch.objects.filter(project=project).order_by("name")


# The annotator table (managers and reviewers).

# Sort keys of the annotator table, in its columns' order.
ANNOTATOR_SORTS = (
    "annotator",
    "role",
    "today",
    "total",
    "median_seconds",
    "skips",
    "agreement",
    "accuracy_decided",
    "accuracy_aggregated",
    "accuracy_questions",
    "last_active",
)
# Skip reasons shown per annotator, the most frequent first.
SKIP_REASONS_SHOWN = 5


@dataclass(frozen=True)
class AnnotatorRow:
    member: Membership  # with its user
    today: int
    total: int
    skips: int
    skip_reasons: list[tuple[str, int]]  # (reason, skips), most frequent first
    last_active: datetime | None  # their latest label's time
    # From the latest agreement report; None (and 0) when not in it.
    in_report: bool
    median_seconds: float | None
    agreement: float | None  # with the leave-one-out majority
    agreement_compared: int
    accuracy_decided: float | None  # against reviewers' decisions
    accuracy_decided_compared: int
    accuracy_aggregated: float | None  # against gold from the labels
    accuracy_aggregated_compared: int
    # On gold questions (quality control), from the kept counters.
    accuracy_questions: float | None
    questions_answered: int


@dataclass(frozen=True)
class AnnotatorTable:
    rows: list[AnnotatorRow]
    report: Job | None  # the agreement report the figures come from
    field: str | None  # the field agreement and accuracy are on
    labels_since: int  # the project's labels since that report
    # False for a report from before median seconds and accuracy were in it.
    has_pace: bool


def agreement_report_latest(project: Project) -> Job | None:
    """The newest finished agreement report over all of the project's labels.

    A report computed for filters (a model, some days, some annotators) is
    about a part of the labels, so it is passed over. Found, as job_for
    does, among the recent reports' params in Python: the result (kappa
    matrices, annotators squared) is read for the one chosen only.
    """
    from annotate.models import Job, JobKind, JobStatus

    recent = (
        Job.objects.filter(
            project=project, kind=JobKind.AGREEMENT, status=JobStatus.SUCCEEDED
        )
        .order_by("-finished_at", "-pk")
        .only("pk", "params")[:50]
    )
    found = next(
        (job for job in recent if not any((job.params.get("filters") or {}).values())),
        None,
    )
    return Job.objects.get(pk=found.pk) if found else None


def annotator_table(
    *,
    project: Project,
    now: datetime,
    sort: str = "annotator",
    descending: bool = False,
) -> AnnotatorTable:
    """Every member of the project with their figures, sorted by `sort` (one
    of ANNOTATOR_SORTS; members without a figure come last either way).

    Three queries, however many members and labels: the members with their
    kept counters and their latest label's time (one backward probe of
    annotation_annotator_time_idx each), the skip reasons (grouped from the
    partial index assignment_skip_reason_idx) and the latest agreement
    report, whose per-annotator figures (agreement, median seconds,
    accuracy) are computed by its job, never here.
    """
    from annotate.models import (
        Annotation,
        Assignment,
        AssignmentStatus,
        Membership,
    )

    latest = (
        Annotation.objects.filter(
            annotator_id=models.OuterRef("user_id"),
            item__project_id=models.OuterRef("project_id"),
        )
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    members = list(
        Membership.objects.filter(project=project)
        .select_related("user")
        .annotate(last_active=models.Subquery(latest))
    )
    reasons: dict[int, list[tuple[str, int]]] = {}
    for annotator_id, reason, n in (
        Assignment.objects.filter(project=project, status=AssignmentStatus.SKIPPED)
        .exclude(skip_reason="")
        .values_list("annotator_id", "skip_reason")
        .annotate(n=models.Count("pk"))
        .order_by()
    ):
        reasons.setdefault(annotator_id, []).append((reason, n))
    job = agreement_report_latest(project)
    report: dict[str, Any] = job.result if job else {}
    field = _accuracy_field(report)
    figures = {row["id"]: row for row in report.get("annotators", [])}
    today = now.date()
    rows = []
    for m in members:
        row = figures.get(m.user_id, {})
        agreement = row.get("majority_agreement", {}).get(field, {})
        accuracy = row.get("gold_accuracy", {})
        decided = accuracy.get("decided", {})
        aggregated = accuracy.get("aggregated", {})
        rows.append(
            AnnotatorRow(
                member=m,
                today=m.today_count if m.today == today else 0,
                total=m.annotations_count,
                skips=m.skips_count,
                skip_reasons=sorted(
                    reasons.get(m.user_id, []), key=lambda r: (-r[1], r[0])
                )[:SKIP_REASONS_SHOWN],
                last_active=m.last_active,  # type: ignore[attr-defined]  # annotated above
                in_report=bool(row),
                median_seconds=row.get("median_seconds"),
                agreement=agreement.get("share"),
                agreement_compared=agreement.get("compared", 0),
                accuracy_decided=decided.get("share"),
                accuracy_decided_compared=decided.get("compared", 0),
                accuracy_aggregated=aggregated.get("share"),
                accuracy_aggregated_compared=aggregated.get("compared", 0),
                accuracy_questions=m.checks_correct / m.checks_total
                if m.checks_total
                else None,
                questions_answered=m.checks_total,
            )
        )
    return AnnotatorTable(
        rows=_sorted_rows(rows, sort, descending),
        report=job,
        field=field,
        labels_since=max(
            0,
            project.annotations_total
            - report.get("counts", {}).get("project_annotations", 0),
        )
        if job
        else 0,
        has_pace=any("median_seconds" in row for row in figures.values()),
    )


def _accuracy_field(report: dict[str, Any]) -> str | None:
    """The field the table shows agreement on: the report's key field when it
    is a one-of field, else its first (services.agreement.annotator_accuracy_field,
    which the report's accuracy was computed with)."""
    singles: list[str] = report.get("single_fields", [])
    key = report.get("key_field")
    if key in singles:
        return str(key)
    return singles[0] if singles else None


def _sorted_rows(
    rows: list[AnnotatorRow], sort: str, descending: bool
) -> list[AnnotatorRow]:
    """Sorted by the column, ties by username; rows without the figure last."""
    from annotate.models import ROLE_RANK, Role

    def value(row: AnnotatorRow) -> object:
        if sort == "annotator":
            return row.member.user.username.lower()
        if sort == "role":
            return ROLE_RANK[Role(row.member.role)]
        return getattr(row, sort)

    by_name = sorted(rows, key=lambda r: r.member.user.username.lower())
    known = [r for r in by_name if value(r) is not None]
    unknown = [r for r in by_name if value(r) is None]
    known.sort(key=value, reverse=descending)  # type: ignore[arg-type]  # one type per column
    return known + unknown


# Labels, one annotator's (the annotator's own page, and reviewers').


def annotations_of(
    *,
    project: Project,
    user_id: int,
    search: str = "",
    before: int | None = None,
    limit: int,
    hide_seen_by: int | None = None,
) -> list[Annotation]:
    """One annotator's human labels in the project, newest first: up to
    `limit` older than the annotation `before` (keyset pagination, no COUNT).

    `search` keeps those whose transcript has that external id or whose
    messages contain it (case-insensitive; a scan, see transcripts_browse).
    `hide_seen_by` leaves out the items that user labelled or holds a claim
    on, so a reviewer reading someone's labels never sees those of an item
    they label themselves (access.access_review_item's rule).
    """
    from annotate.models import Annotation

    annotations = (
        Annotation.objects.filter(
            item__project=project, annotator_id=user_id, is_human=True
        )
        .select_related("item__transcript")
        .only(
            "pk",
            "values",
            "created_at",
            "seconds_spent",
            "item_id",
            "item__transcript__external_id",
            "item__transcript__source_model",
        )
        .order_by("-pk")
    )
    if search:
        annotations = annotations.filter(
            models.Q(item__transcript__external_id=search)
            | models.Q(item__transcript__messages_json__icontains=search)
        )
    if before is not None:
        annotations = annotations.filter(pk__lt=before)
    if hide_seen_by is not None and hide_seen_by != user_id:
        annotations = annotations.exclude(seen_by(hide_seen_by, item="item_id"))
    return list(annotations[:limit])


# The transcript browser (reviewers and managers).

# An item's state, from kept fields (item counters, its gold row); the
# labels are the screen's words.
ITEM_STATUSES = {
    "unlabelled": "Unlabelled",
    "in_progress": "In progress",
    "complete": "Complete",
    "disputed": "Disputed",
    "adjudicated": "Adjudicated",
}


def item_status_filter(project: Project, status: str) -> models.Q:
    """Transcripts whose item is in `status` (a key of ITEM_STATUSES).

    adjudicated: a reviewer decided it (gold.adjudicated), whatever else;
    unlabelled: no label yet (it may be claimed); in progress: some labels,
    fewer than the overlap; disputed: in the review queue (queries.disputed:
    all labels in, key field unresolved or disagreement above the
    threshold); complete: all labels in and none of those. Each transcript
    is in exactly one (item_status says which for a loaded row).
    """
    decided = models.Q(item__gold__adjudicated=True)
    count = "item__annotations_count"
    queue = disputed(project, prefix="item__")
    match status:
        case "adjudicated":
            return decided
        case "unlabelled":
            return models.Q(**{count: 0}) & ~decided
        case "in_progress":
            return (
                models.Q(**{f"{count}__gt": 0, f"{count}__lt": project.overlap})
                & ~decided
            )
        case "disputed":
            return queue
        case "complete":
            return models.Q(**{f"{count}__gte": project.overlap}) & ~decided & ~queue
    raise ValueError(f"Unknown status {status!r}.")


def item_status(project: Project, item: Item) -> str:
    """The key of ITEM_STATUSES the item is in (its gold row loaded, or none):
    the same rules as item_status_filter."""
    from annotate.models import Gold

    try:
        gold: Gold | None = item.gold
    except Gold.DoesNotExist:
        gold = None
    if gold is not None and gold.adjudicated:
        return "adjudicated"
    if item.annotations_count == 0:
        return "unlabelled"
    if item.annotations_count < project.overlap:
        return "in_progress"
    if gold is not None and (
        not gold.key_resolved
        or (
            item.disagreement is not None
            and item.disagreement > project.disagreement_threshold
        )
    ):
        return "disputed"
    return "complete"


@dataclass(frozen=True)
class TranscriptFilters:
    """What the transcript browser shows; empty means all."""

    text: str = ""  # contained in the messages, case-insensitive
    external_id: str = ""  # exactly
    source_model: str = ""
    dataset: str = ""
    metadata_key: str = ""  # the key present; with a value, equal to it
    metadata_value: str = ""
    status: str = ""  # a key of ITEM_STATUSES

    @property
    def query(self) -> str:
        """The browser's query string for these filters."""
        return urlencode({k: v for k, v in asdict(self).items() if v})


# A text search reads every message of the project (no trigram index: it
# made imports 14 times slower; README), so on PostgreSQL it has this long
# before it is stopped, rather than hold a web worker.
SEARCH_TIMEOUT_MS = 5000


class SearchTooSlow(Exception):
    """The text search ran past SEARCH_TIMEOUT_MS."""


def transcripts_matching(
    *, project: Project, filters: TranscriptFilters, viewer_id: int | None = None
) -> models.QuerySet[Transcript]:
    """The project's transcripts matching `filters`, unordered: what the
    browser pages through and a saved search's batch picks from.

    The external id is looked up by transcript_external_id_idx; model,
    dataset, metadata and status filter the rows met. The text search is a
    case-insensitive contains over the messages' JSON text (ILIKE on
    PostgreSQL, LIKE on SQLite) with no index: evaluate it inside
    search_deadline. With `viewer_id`, a status filter leaves out the items
    that user labelled or holds a claim on: their state is not shown to
    someone labelling them.
    """
    from django.db.models.fields.json import KeyTextTransform
    from django.db.models.functions import Cast

    from annotate.models import Transcript

    qs = Transcript.objects.filter(project=project)
    if filters.external_id:
        qs = qs.filter(external_id=filters.external_id)
    if filters.source_model:
        qs = qs.filter(source_model=filters.source_model)
    if filters.dataset:
        qs = qs.filter(dataset=filters.dataset)
    if filters.metadata_key and filters.metadata_value:
        # As text on both databases (SQLite's JSON_EXTRACT gives numbers as
        # numbers): a value 3 matches "3".
        qs = qs.annotate(
            metadata_text=Cast(
                KeyTextTransform(filters.metadata_key, "metadata"),
                output_field=models.TextField(),
            )
        ).filter(metadata_text=filters.metadata_value)
    elif filters.metadata_key:
        qs = qs.filter(metadata__has_key=filters.metadata_key)
    if filters.status:
        qs = qs.filter(item_status_filter(project, filters.status))
        if viewer_id is not None:
            qs = qs.exclude(seen_by(viewer_id))
    if filters.text:
        qs = qs.filter(messages_json__icontains=filters.text)
    return qs


@contextmanager
def search_deadline(*, on: bool) -> Iterator[None]:
    """Run the block's queries with at most SEARCH_TIMEOUT_MS each on
    PostgreSQL; as they are when not `on`, or on SQLite.

    Raises SearchTooSlow past it, the block's work rolled back to its
    savepoint, so the caller's transaction goes on.
    """
    from django.db import OperationalError, transaction

    if not on or connection.vendor != "postgresql":
        yield
        return
    nested = connection.in_atomic_block
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if nested:
                cursor.execute("SHOW statement_timeout")
                (before,) = cursor.fetchone()
            cursor.execute(f"SET LOCAL statement_timeout = {SEARCH_TIMEOUT_MS}")
            yield
            # Releasing a savepoint keeps its SET LOCAL: put the caller's
            # timeout back for the rest of their transaction.
            if nested:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", [before]
                )
    except OperationalError as e:  # psycopg's QueryCanceled
        raise SearchTooSlow from e


def transcripts_browse(
    *,
    project: Project,
    filters: TranscriptFilters,
    after: int,
    limit: int,
    viewer_id: int | None = None,
) -> list[Transcript]:
    """The project's transcripts matching `filters` (transcripts_matching),
    in id order, up to `limit` after the transcript `after` (keyset
    pagination: no COUNT, so a page costs the same anywhere), each with its
    item and gold.

    Rows are met in id order, so a page stops as soon as it is full. Raises
    SearchTooSlow when a text search runs past SEARCH_TIMEOUT_MS on
    PostgreSQL. With `viewer_id`, each transcript says whether that user
    labelled its item or holds a claim on it (`seen`).
    """
    qs = transcripts_matching(project=project, filters=filters, viewer_id=viewer_id)
    if viewer_id is not None:
        qs = qs.annotate(seen=_seen_flag(viewer_id))
    qs = qs.filter(pk__gt=after).select_related("item__gold").order_by("pk")[:limit]
    with search_deadline(on=bool(filters.text)):
        return list(qs)


def transcript_for_review(
    *, project: Project, transcript_id: int, viewer_id: int
) -> Transcript | None:
    """One transcript of the project with its item and gold, and whether the
    viewer labelled it or holds a claim on it (`seen`, as transcripts_browse)."""
    from annotate.models import Transcript

    return (
        Transcript.objects.filter(project=project, pk=transcript_id)
        .select_related("item__gold")
        .annotate(seen=_seen_flag(viewer_id))
        .first()
    )


def _seen_flag(user_id: int) -> models.ExpressionWrapper[models.Q]:
    # A transcript's id is its item's, so seen_by's reference to "pk" holds.
    return models.ExpressionWrapper(
        seen_by(user_id), output_field=models.BooleanField()
    )


def source_models_imported(project: Project) -> list[str]:
    """The source models the project's recent imports brought, for the
    browser's suggestions: read from their summaries (kept on the jobs),
    never by a DISTINCT over the transcripts."""
    from annotate.models import Job, JobKind, JobStatus

    found: set[str] = set()
    for result in (
        Job.objects.filter(
            project=project, kind=JobKind.IMPORT, status=JobStatus.SUCCEEDED
        )
        .order_by("-created_at")
        .values_list("result", flat=True)[:50]
    ):
        found.update(m for m in (result or {}).get("by_model", {}) if m)
    return sorted(found)


# The managers' workspace ----------------------------------------------------


def manages_projects(user: User) -> bool:
    """Whether the user may create projects and upload label sets: staff, or
    an active manager of any project (archived ones too). Annotators and
    reviewers cannot start projects of their own; an operator makes the
    first manager (create_project and add_member, or a staff user)."""
    from annotate.models import Membership, Role

    return user.is_staff or (
        Membership.objects.active().filter(user=user, role=Role.MANAGER).exists()
    )


def label_sets_visible_to(user: User) -> models.QuerySet[LabelSet]:
    """The label sets a user may see: every one for staff; otherwise those
    they uploaded, those a project of theirs uses (any version, any role),
    and, for managers, the installation's own (loaded by a migration or
    labelset_load, with no uploader)."""
    from annotate.models import Membership

    if user.is_staff:
        return LabelSet.objects.all()
    used = (
        Membership.objects.active()
        .filter(user=user)
        .values("project__label_set_version__label_set")
    )
    visible = models.Q(created_by=user) | models.Q(pk__in=used)
    if manages_projects(user):
        visible |= models.Q(created_by__isnull=True)
    return LabelSet.objects.filter(visible)


def label_set_projects(label_set: LabelSet, user: User) -> dict[int, list[Project]]:
    """The projects of the user (staff: all) using each version of the label
    set, by version id, by name."""
    from annotate.models import Project

    projects = Project.objects.filter(label_set_version__label_set=label_set)
    if not user.is_staff:
        projects = projects.filter(memberships__user=user, memberships__is_active=True)
    found: dict[int, list[Project]] = {}
    for project in projects.order_by("name"):
        found.setdefault(project.label_set_version_id, []).append(project)
    return found


def flags_to_review(project: Project, *, limit: int) -> list[ItemFlag]:
    """Annotators' flags waiting for a manager's review, oldest first, with
    their items' transcripts and flaggers: at most `limit` (the partial index
    item_flag_review_idx serves it)."""
    from annotate.models import ItemFlag

    return list(
        ItemFlag.objects.filter(project=project, review_pending=True)
        .select_related("item__transcript", "by")
        .order_by("created_at", "pk")[:limit]
    )


def item_flags(item_id: int, *, limit: int = 20) -> list[ItemFlag]:
    """An item's flag records, newest first, with who made them."""
    from annotate.models import ItemFlag

    return list(
        ItemFlag.objects.filter(item_id=item_id)
        .select_related("by")
        .order_by("-created_at", "-pk")[:limit]
    )


def audit_entries(
    project: Project,
    *,
    action: str = "",
    actor: str = "",
    object_type: str = "",
    object_id: int | None = None,
    since: datetime | None = None,
) -> models.QuerySet[AuditEntry]:
    """The project's audit entries, newest first (by id: entries are written
    as changes commit), with their actors; each filter applies when given."""
    from annotate.models import AuditEntry

    entries = AuditEntry.objects.filter(project=project)
    if action:
        entries = entries.filter(action=action)
    if actor:
        entries = entries.filter(actor__username=actor)
    if object_type:
        entries = entries.filter(object_type=object_type)
    if object_id is not None:
        entries = entries.filter(object_id=object_id)
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    return entries.select_related("actor").order_by("-pk")
