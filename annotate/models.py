"""The domain: projects, their members, transcripts, queue items, claims and labels."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from functools import cached_property

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from annotate.queries import (
    ApiTokenQuerySet,
    AssignmentQuerySet,
    JobQuerySet,
    MembershipQuerySet,
    TranscriptFilters,
)
from labelsets.models import LabelSetVersion


class QueueStrategy(models.TextChoices):
    HYBRID = "hybrid", "Most informative first (uncertainty, relabelling, coverage)"
    UNCERTAINTY = "uncertainty", "The model's most uncertain first"
    RANDOM = "random", "Random order (seeded)"
    SEQUENTIAL = "sequential", "In import order"


class ChosenBy(models.TextChoices):
    """How the queue chose a claimed item, kept on the claim for the estimates
    that must correct for it (the calibration report's unbiased figures)."""

    QUEUE = "queue", "The strategy's order"
    EXPLORE = "explore", "Exploration: uniformly at random"
    ASSIGNED = "assigned", "Assigned by a manager"
    CHECK = "check", "A gold question (quality control)"


# Annotator care (services.care): the most a project's cap may be, and so
# the most label times a membership keeps to count against it.
FLAGGED_CAP_MAX = 100


class GoldMethod(models.TextChoices):
    MAJORITY = "majority", "Majority (unanimous, strict majority, median)"
    WEIGHTED = "weighted", "Weighted by each annotator's reliability (Dawid-Skene)"


class Project(models.Model):
    name = models.CharField(max_length=200, unique=True)
    label_set_version = models.ForeignKey(
        LabelSetVersion, on_delete=models.PROTECT, related_name="+"
    )
    overlap = models.PositiveSmallIntegerField(
        default=3, help_text="Independent labels each item needs."
    )
    lease = models.DurationField(
        default=timedelta(minutes=30), help_text="How long a claim holds an item."
    )
    guidelines = models.TextField(
        blank=True, help_text="Markdown, shown beside the form."
    )
    gold_method = models.CharField(
        max_length=16,
        choices=GoldMethod.choices,
        default=GoldMethod.MAJORITY,
        help_text="How one-of fields aggregate to gold; a reviewer's decision always wins.",
    )
    queue_strategy = models.CharField(
        max_length=16, choices=QueueStrategy.choices, default=QueueStrategy.HYBRID
    )
    # Weights and switches of the strategy (services.learning.QueueSettings,
    # which documents each default and checks each range).
    queue_settings = models.JSONField(default=dict, blank=True)
    # An item whose labels disagree gets one more label at a time, up to
    # overlap + extra_labels_max, rather than every item getting more.
    extra_labels_max = models.PositiveSmallIntegerField(
        default=0,
        help_text="Labels an item may get beyond overlap when its labels disagree.",
    )
    disagreement_threshold = models.FloatField(
        # 0.35: two of three labels agreeing on a five-option key field
        # (refusal-v1's refusal_type) scores 0.40, so such a split counts.
        default=0.35,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=(
            "Above this, an item's labels disagree: the normalised entropy of its "
            "key field, 0 when all agree, 1 when spread evenly over every option."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Kept counters: updated with F() by the services that change them, so no
    # request ever counts rows to show progress.
    items_total = models.PositiveIntegerField(default=0)
    items_complete = models.PositiveIntegerField(default=0)
    annotations_total = models.PositiveIntegerField(default=0)
    # Open items in the exploration sample at the last rescore: while 0, no
    # claim looks for one (a claim that found the sample empty would take a
    # second query for the strategy's stream).
    audit_open = models.PositiveIntegerField(default=0)
    # Quality control: gold questions (known answers) mixed into the queue.
    questions_count = models.PositiveIntegerField(default=0)  # kept
    check_rate = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Share of claims that serve a gold question.",
    )
    qualification_size = models.PositiveSmallIntegerField(
        default=0,
        help_text="Gold questions a new annotator answers before the pool (0: none).",
    )
    qualification_pass = models.FloatField(
        default=0.8,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of them to answer right to join the pool.",
    )
    pause_below = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Pause an annotator whose recent gold accuracy falls below this (empty: never).",
    )
    pause_window = models.PositiveSmallIntegerField(
        default=20, help_text="Recent gold questions the pause looks at."
    )
    # Set while the project is archived: read-only (no claims, submits,
    # skips, corrections, decisions, imports or settings changes; the
    # services refuse them), off the home page, still readable and
    # exportable. services.projects.project_archive says what it ends.
    archived_at = models.DateTimeField(null=True, blank=True)
    # Annotator care: once an annotator has labelled this many items with a
    # content warning within any `flagged_window`, the queue offers a break
    # and serves them only items without one. None: no cap.
    flagged_cap = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(FLAGGED_CAP_MAX)],
        help_text="Items with a content warning an annotator labels in a window; empty for no cap.",
    )
    flagged_window = models.DurationField(
        default=timedelta(hours=4),
        help_text="The rolling window the cap counts in.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(overlap__gte=1), name="project_overlap_positive"
            ),
            models.CheckConstraint(
                condition=Q(disagreement_threshold__gte=0.0)
                & Q(disagreement_threshold__lte=1.0),
                name="project_disagreement_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(flagged_cap__isnull=True)
                | (Q(flagged_cap__gte=1) & Q(flagged_cap__lte=FLAGGED_CAP_MAX)),
                name="project_flagged_cap_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def refuse_if_archived(self, refused: str) -> None:
        """ValidationError (code `archived`) saying what is refused, when the
        project is archived: every write path calls it (an archived project
        is read-only), a claim finds nothing instead."""
        if self.archived_at is not None:
            raise ValidationError(
                f"{self.name} is archived, so {refused}. It can still be read "
                "and exported; a manager can unarchive it.",
                code="archived",
            )


class Role(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"
    MANAGER = "manager", "Manager"


# Each role can do everything the roles before it can.
ROLE_RANK = {Role.ANNOTATOR: 0, Role.REVIEWER: 1, Role.MANAGER: 2}


class Qualification(models.TextChoices):
    NONE = "", "Not needed"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    is_active = models.BooleanField(default=True, help_text="Off retires the member.")
    created_at = models.DateTimeField(default=timezone.now)
    # Kept counters for the progress bar, updated by submit and skip.
    annotations_count = models.PositiveIntegerField(default=0)
    skips_count = models.PositiveIntegerField(default=0)
    today = models.DateField(null=True, blank=True)
    today_count = models.PositiveIntegerField(default=0)
    # Quotas: no claim past them (None: no limit). The claim reads them and
    # the counters above, so checking costs no query.
    quota_day = models.PositiveIntegerField(null=True, blank=True)
    quota_total = models.PositiveIntegerField(null=True, blank=True)
    # Kept: the member's allocations not yet claimed. While 0 the claim skips
    # the assigned stream (one query fewer for everyone never assigned work).
    assigned_open = models.PositiveIntegerField(default=0)
    # Gold questions answered, kept by the check's submit: in all, fully
    # right, and the latest results ("1" right, "0" wrong, newest last) for
    # the auto-pause.
    checks_total = models.PositiveIntegerField(default=0)
    checks_correct = models.PositiveIntegerField(default=0)
    checks_recent = models.CharField(max_length=200, blank=True, default="")
    qualification = models.CharField(
        max_length=8, choices=Qualification.choices, blank=True, default=""
    )
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=500, blank=True)
    # The member's last label or skip, set by the same UPDATE as the counters
    # (no query of its own on the labelling path).
    last_active_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # Kept while the project caps items with a content warning: when the
    # member labelled its latest ones (POSIX seconds, oldest first, at most
    # FLAGGED_CAP_MAX), so the claim counts those in the window without a
    # query (services.care).
    flagged_recent = models.JSONField(default=list, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "project"], name="membership_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"

    def has_role(self, role: Role) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[role]


class ApiToken(models.Model):
    """A user's API key for `Authorization: Token <key>`, kept as its sha256.

    The key is shown once, when made (services.tokens.api_token_create);
    only its first characters (`prefix`) stay readable, to tell tokens
    apart. A plain sha256 suffices where a password needs a slow hash: the
    key is 256 random bits, beyond guessing, and one indexed lookup of the
    hash authenticates a request.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    # To within services.tokens.TOKEN_USE_EVERY: a write at every request
    # would add a commit to each.
    last_used_at = models.DateTimeField(null=True, blank=True)
    # A revoked token stays, for the record of who revoked it and when.
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=Q(revoked_at__isnull=True),
                name="api_token_name_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Transcript(models.Model):
    """A conversation to label: messages as [{role, content}], roles system/user/assistant."""

    # No index of its own: the unique (project, content_hash) index leads with it.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="transcripts", db_index=False
    )
    # Stored as the canonical JSON text the import hashed, not jsonb: messages
    # are never queried inside, and skipping jsonb's parse is a fifth of the
    # server's import work; exports can write the text as it is.
    messages_json = models.TextField()
    source_model = models.CharField(max_length=200, blank=True)
    dataset = models.CharField(max_length=200, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    prompt_group = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64)
    # Provenance only, never filtered on in a request: no index to write per row.
    job = models.ForeignKey(
        "Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="transcripts",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "content_hash"], name="transcript_hash_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["project", "prompt_group"], name="transcript_group_idx"
            ),
            # Links by external id and the browser's id filter. Measured on a
            # COPY of 30,000 transcripts: about 5% more time for this index,
            # against 14 times as long for a trigram index on the messages,
            # which is why the text search scans (README).
            models.Index(
                fields=["project", "external_id"], name="transcript_external_id_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.external_id or f"transcript {self.pk}"

    @property
    def annotator_metadata(self) -> dict[str, object]:
        """Metadata shown while labelling: keys starting with "_" (expected
        labels, judge outputs, import hints) stay hidden at every depth, so
        labelling stays blind."""
        shown = _without_hidden(self.metadata)
        return shown if isinstance(shown, dict) else {}

    @cached_property
    def messages(self) -> list[dict[str, str]]:
        """[{role, content}], roles system/user/assistant, system first if any."""
        messages: list[dict[str, str]] = orjson.loads(self.messages_json)
        return messages


class Item(models.Model):
    """A transcript's place in its project's queue.

    Kept narrow and separate from Transcript so the queue index and the rows the
    claim locks stay small whatever the transcripts hold.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    # The transcript's id is the item's: one index fewer to write per import
    # row, and no join needed to go from one to the other.
    transcript = models.OneToOneField(
        Transcript, on_delete=models.CASCADE, related_name="item", primary_key=True
    )
    priority = models.FloatField(default=0.0)
    # In the exploration sample: a seeded random share of the items, served in
    # random order by the exploration claims and never by the strategy's, so
    # the finished ones are a uniform sample of the project (unbiased rates).
    audit = models.BooleanField(default=False, db_default=False)
    # The model's pre-label per target field, {field: {"value", "p"}}, written
    # by rescoring while the project shows pre-labels; None otherwise.
    suggestion = models.JSONField(null=True, blank=True)
    # Labels still needed, live claims included: > 0 means claimable.
    slots_left = models.SmallIntegerField()
    # Of slots_left, those held for the annotators it is allocated to (not
    # yet claimed): the pool serves only slots beyond them.
    reserved = models.PositiveSmallIntegerField(default=0, db_default=0)
    annotations_count = models.PositiveSmallIntegerField(default=0)
    skips_count = models.PositiveSmallIntegerField(default=0)
    # Kept by item_rescore at each new or corrected label; None
    # until then, or when the label set has no field to score.
    disagreement = models.FloatField(null=True, blank=True)
    # A label arrived that the rescoring (disagreement, extra slot, gold)
    # has not seen yet: set in the submit's own UPDATE, cleared by the
    # rescoring under the row's lock. The record of work owed, whatever
    # becomes of the task that was to do it (services.deferred).
    rescore_due = models.BooleanField(default=False, db_default=False)
    # Annotator care: flagged as possibly distressing (by its metadata's
    # content_warning at import, a manager, or an annotator's flag and skip).
    # The labelling screen warns and blurs the transcript until revealed; an
    # annotator past the project's cap is served only unflagged items.
    distressing = models.BooleanField(default=False, db_default=False)
    # What kind of content, shown with the warning ("" for none named).
    content_warning = models.CharField(
        max_length=200, blank=True, default="", db_default=""
    )

    class Meta:
        # The database holds the queue's invariants too, so a bug that would
        # over-fill an item (or mis-score one) fails loudly instead.
        constraints = [
            models.CheckConstraint(
                condition=Q(slots_left__gte=0), name="item_slots_left_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(disagreement__isnull=True)
                | (Q(disagreement__gte=0.0) & Q(disagreement__lte=1.0)),
                name="item_disagreement_range",
            ),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("slots_left")),
                name="item_reserved_within_slots",
            ),
        ]
        indexes = [
            # Serves the claim order without a sort, however many items are full.
            # The claim order of each stream (the strategy's, the exploration
            # sample's) without a sort, however many items are full.
            models.Index(
                F("project"),
                F("audit"),
                F("priority").desc(),
                F("transcript"),
                condition=Q(slots_left__gt=0),
                name="item_queue_idx",
            ),
            # The rescoring's to-do list, in lock order, and the manager's
            # count of it: a handful of rows however large the project.
            models.Index(
                F("transcript"),
                condition=Q(rescore_due=True),
                name="item_rescore_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.pk}"


class AssignmentStatus(models.TextChoices):
    LIVE = "live", "Claimed"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"
    EXPIRED = "expired", "Expired"


class SkipKind(models.TextChoices):
    """Why an item was skipped. Only OTHER counts against the annotator (in
    their skip count and the item's): a flag helps everyone after them, and a
    skip for one's wellbeing is never a mark against anyone."""

    OTHER = "other", "Skipped"
    FLAG = "flag", "Flagged as distressing and skipped"
    WELLBEING = "wellbeing", "Skipped for wellbeing"


class Assignment(models.Model):
    """A claim (lease) of one item by one annotator."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    # Denormalised from item so "the annotator's live claim in this project"
    # is one index lookup and one constraint.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    status = models.CharField(
        max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.LIVE
    )
    claimed_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    skip_reason = models.CharField(max_length=500, blank=True)
    # Set with status skipped ("" otherwise).
    skip_kind = models.CharField(
        max_length=16, choices=SkipKind.choices, blank=True, default="", db_default=""
    )
    # How the queue chose the item: which stream, the item's priority then,
    # and for exploration the probability of an item being in its sample.
    chosen_by = models.CharField(
        max_length=8, choices=ChosenBy.choices, default=ChosenBy.QUEUE
    )
    score = models.FloatField(null=True, blank=True)
    probability = models.FloatField(null=True, blank=True)
    # The pre-labels shown with this claim (the item's suggestion then), or None.
    prelabels = models.JSONField(null=True, blank=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        constraints = [
            # One row per annotator and item: never labelled twice, and a
            # re-claim after expiry reuses the row.
            models.UniqueConstraint(
                fields=["item", "annotator"], name="assignment_unique"
            ),
            # At most one live claim per annotator and project, even from two tabs.
            models.UniqueConstraint(
                fields=["project", "annotator"],
                condition=Q(status="live"),
                name="assignment_one_live",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=Q(status="live"),
                name="assignment_expiry_idx",
            ),
            # The annotator table's skip reasons, grouped per annotator: read
            # from this index alone, whatever the number of claims.
            models.Index(
                fields=["project", "annotator", "skip_reason"],
                condition=Q(status="skipped") & ~Q(skip_reason=""),
                name="assignment_skip_reason_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} on {self.item}"


class FlagSource(models.TextChoices):
    MANAGER = "manager", "A manager"
    ANNOTATOR = "annotator", "An annotator's flag and skip"


class ItemFlag(models.Model):
    """One change to an item's content warning, kept as a record: who set or
    cleared it, when and why. An annotator's flag that flagged the item waits
    for a manager's review until a manager sets the item's flag either way.
    (A flag read from the import's metadata has no record: the metadata is.)"""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="flags")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=16, choices=FlagSource.choices)
    flagged = models.BooleanField()
    # A manager's: the kind of content when flagging, the reason when
    # clearing. An annotator's: their skip reason.
    note = models.CharField(max_length=500, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    review_pending = models.BooleanField(default=False)

    class Meta:
        indexes = [
            # The managers' list of flags to review.
            models.Index(
                fields=["project", "created_at"],
                condition=Q(review_pending=True),
                name="item_flag_review_idx",
            ),
        ]

    def __str__(self) -> str:
        what = "flagged" if self.flagged else "cleared"
        return f"item {self.item_id} {what} by {self.get_source_display().lower()}"


class Batch(models.Model):
    """Items a manager assigned to chosen annotators at once, by a filter."""

    class Mode(models.TextChoices):
        EACH = "each", "Each annotator labels every item"
        SPLIT = "split", "The items are shared out among the annotators"

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="batches"
    )
    name = models.CharField(max_length=200)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.EACH)
    # What selected the items, as the form took it: shown with the batch.
    selection = models.JSONField(default=dict)
    items_count = models.PositiveIntegerField(default=0)
    allocations_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class SavedSearch(models.Model):
    """The transcript browser's filters under a name, shared by the project's
    reviewers and managers: a link in the browser, and a batch's selection."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="saved_searches"
    )
    name = models.CharField(max_length=100)
    # The fields of queries.TranscriptFilters; empty means not filtered.
    text = models.CharField(max_length=500, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    source_model = models.CharField(max_length=200, blank=True)
    dataset = models.CharField(max_length=200, blank=True)
    metadata_key = models.CharField(max_length=200, blank=True)
    metadata_value = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"], name="saved_search_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def filters(self) -> TranscriptFilters:
        return TranscriptFilters(
            **{
                f.name: getattr(self, f.name)
                for f in dataclasses.fields(TranscriptFilters)
            }
        )


class AllocationState(models.TextChoices):
    PENDING = "pending", "Not started"
    CLAIMED = "claimed", "Started"
    SKIPPED = "skipped", "Skipped"
    MOVED = "moved", "Moved to another annotator"


class Allocation(models.Model):
    """One item assigned to one annotator. While pending it holds one of the
    item's slots (Item.reserved); the claim turns it into an Assignment."""

    batch = models.ForeignKey(
        Batch, on_delete=models.CASCADE, related_name="allocations"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="allocations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="allocations"
    )
    state = models.CharField(
        max_length=8, choices=AllocationState.choices, default=AllocationState.PENDING
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "annotator"], name="allocation_unique"
            ),
        ]
        indexes = [
            # The claim's assigned stream: an annotator's pending allocations.
            models.Index(
                fields=["annotator", "project"],
                condition=Q(state="pending"),
                name="allocation_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} for user {self.annotator_id} ({self.state})"


class Annotation(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    # No index of its own: annotation_annotator_time_idx leads with it.
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="annotations",
        db_index=False,
    )
    label_set_version = models.ForeignKey(
        LabelSetVersion, on_delete=models.PROTECT, related_name="+"
    )
    values = models.JSONField()
    # False for a judge's labels (a classifier or an LLM, import_judgements):
    # never shown to people, never in human agreement or in the gold.
    is_human = models.BooleanField(default=True, db_default=True)
    seconds_spent = models.FloatField(default=0.0)
    # The model's pre-labels the annotator saw when labelling, or None: the
    # agreement page compares those who saw them with those who did not.
    prelabels = models.JSONField(null=True, blank=True)
    # Generated by the client per attempt: a retried POST carries the same one.
    client_uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "annotator"], name="annotation_unique"
            ),
        ]
        indexes = [
            # An annotator's latest label: the annotator table's "last
            # active", one backward index probe per member.
            models.Index(
                fields=["annotator", "created_at"], name="annotation_annotator_time_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} on {self.item}"


class Gold(models.Model):
    """An item's gold labels, kept current as its labels and decisions arrive.

    `values` maps each field to {"value", "method", "confidence"}
    (annotate/aggregation.py). Apart from Item so the queue's rows stay narrow.
    """

    item = models.OneToOneField(
        Item, on_delete=models.CASCADE, primary_key=True, related_name="gold"
    )
    values = models.JSONField()
    # The key field has a gold value: its labels agree enough, or a reviewer decided.
    key_resolved = models.BooleanField()
    adjudicated = models.BooleanField(default=False)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"gold of item {self.item_id}"


class GoldQuestion(models.Model):
    """An item with a known answer (a honeypot), served to annotators now and
    then like any other item; their answers measure their accuracy and are
    kept apart from the labels (CheckAnswer), so they never count in the
    agreement, the gold or the exports."""

    item = models.OneToOneField(
        Item, on_delete=models.CASCADE, related_name="question", primary_key=True
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    # The expected value of each field it checks (a subset of the label set's).
    values = models.JSONField()
    source = models.CharField(max_length=16, default="manager")  # or "import"
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"gold question {self.item_id}"


class CheckAnswer(models.Model):
    """An annotator's answer to a gold question, field by field."""

    question = models.ForeignKey(
        GoldQuestion, on_delete=models.CASCADE, related_name="answers"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    values = models.JSONField()
    correct = models.JSONField()  # {field: bool} for each field checked
    right = models.BooleanField()  # every checked field right
    client_uuid = models.UUIDField(unique=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["question", "annotator"], name="check_answer_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"answer of {self.annotator_id} to {self.question_id}"


class Decision(models.Model):
    """A reviewer's gold labels for one item, with the reason.

    Never edited: a new decision on the item is a new row with the next
    number, so who decided what, when, and what it replaced stays on record.
    """

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="decisions")
    number = models.PositiveIntegerField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions"
    )
    label_set_version = models.ForeignKey(
        LabelSetVersion, on_delete=models.PROTECT, related_name="+"
    )
    values = models.JSONField()
    # The gold values this decision replaced (aggregated, or the last decision's).
    before = models.JSONField(default=dict)
    reason = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "number"], name="decision_unique"),
        ]

    def __str__(self) -> str:
        return f"decision {self.number} on item {self.item_id}"


class ReviewClaim(models.Model):
    """A reviewer's lease on one item of the review queue, so that two
    reviewers never get the same item (services.review).

    At most one row per item and one per reviewer in a project: a reviewer
    holds one item at a time, as an annotator does. A decision on the item
    deletes its row; past expires_at a row no longer counts, and the next
    claim of the item or by the reviewer takes it over, so an abandoned
    lease returns its item to the queue without a job.
    """

    item = models.OneToOneField(
        Item, on_delete=models.CASCADE, related_name="review_claim"
    )
    # Denormalised from item, so "the reviewer's claim in this project" is
    # one index lookup and one constraint.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_claims"
    )
    claimed_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "reviewer"], name="review_claim_one_per_reviewer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} reviewing {self.item}"


class JobKind(models.TextChoices):
    IMPORT = "import", "Import"
    AGREEMENT = "agreement", "Agreement"
    EXPORT = "export", "Gold export"
    CALIBRATION = "calibration", "Calibration report"
    RETRAIN = "retrain", "Queue model: retrain and rescore"
    RESCORE = "rescore", "Queue: rescore"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """A long-running piece of work run by Celery, with progress for the UI and API."""

    kind = models.CharField(max_length=16, choices=JobKind.choices)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    params = models.JSONField(default=dict, blank=True)
    stage = models.CharField(
        max_length=100, blank=True, help_text="What the job is doing now."
    )
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        constraints = [
            # A project never retrains (or rescores) twice at once: a second
            # request meets this and joins the job already queued or running.
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(
                    kind__in=["retrain", "rescore"], status__in=["queued", "running"]
                ),
                name="job_one_live_queue_job",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {JobStatus.SUCCEEDED, JobStatus.FAILED}

    @property
    def progress_key(self) -> str:
        """The cache key of the job's live progress (services.jobs.job_progress)."""
        return f"job-progress:{self.pk}"

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.progress_done / self.progress_total))


class QueueModel(models.Model):
    """One training of a project's queue model: its figures, the settings it
    ranked with, and (for the latest few) the fitted model itself.

    `fields` holds per target field {"classes", "n_train", "cv_macro_f1"};
    a `heuristic` row is the cold-start refusal-phrase score, trained on
    nothing. `load_error` is set when a rescore could not load the artefact
    (a library upgrade): the queue keeps its previous priorities meanwhile.
    """

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="queue_models"
    )
    version = models.PositiveIntegerField()
    created_at = models.DateTimeField()
    heuristic = models.BooleanField(default=False)
    strategy = models.CharField(max_length=16, choices=QueueStrategy.choices)
    settings = models.JSONField(default=dict)
    labels_used = models.PositiveIntegerField(default=0)
    fields = models.JSONField(default=dict)
    macro_f1 = models.FloatField(null=True, blank=True)  # the mean over the fields
    train_seconds = models.FloatField(default=0.0)
    score_seconds = models.FloatField(default=0.0)
    items_scored = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=500, blank=True)
    load_error = models.CharField(max_length=500, blank=True)
    artefact = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "version"], name="queue_model_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"queue model {self.version} of {self.project}"


def _without_hidden(value: object) -> object:
    """`value` with every mapping key starting with "_" dropped, however deep:
    a judge's score nested under a visible key is as much a hint as one on
    top. (Imports refuse metadata nested deeper than 64 levels.)"""
    if isinstance(value, dict):
        return {
            k: _without_hidden(v)
            for k, v in value.items()
            if not str(k).startswith("_")
        }
    if isinstance(value, list):
        return [_without_hidden(v) for v in value]
    return value


class AuditAction(models.TextChoices):
    """What an audit entry records (the History page's words for it)."""

    ANNOTATION_CORRECT = "annotation_correct", "Label corrected"
    DECISION_RECORD = "decision_record", "Decision recorded"
    MEMBER_ADD = "member_add", "Member added"
    ROLE_CHANGE = "role_change", "Role changed"
    MEMBER_DEACTIVATE = "member_deactivate", "Member deactivated"
    MEMBER_REACTIVATE = "member_reactivate", "Member reactivated"
    BATCH_CREATE = "batch_create", "Work assigned"
    ALLOCATIONS_MOVE = "allocations_move", "Assigned work moved"
    QUOTA_SET = "quota_set", "Quotas changed"
    SETTINGS_CHANGE = "settings_change", "Settings changed"
    ARCHIVE = "archive", "Project archived"
    UNARCHIVE = "unarchive", "Project unarchived"


class AuditEntry(models.Model):
    """Who changed what in a project, and when: written by the service that
    makes the change, in its transaction (services.audit.audit_record), so
    every caller is audited and a rolled-back change leaves no entry.

    `before` and `after` hold the changed fields only, as stored values;
    `object_repr` names the object as it was (as the admin's LogEntry does),
    so an entry still reads right after a rename or a deletion.
    """

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="audit_entries"
    )
    # None: a system change (a command run without a user).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    object_type = models.CharField(max_length=32)
    object_id = models.PositiveBigIntegerField()
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            # The History page and the API: a project's entries, newest first.
            models.Index(
                fields=["project", "created_at"], name="audit_project_created"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_id} at {self.created_at}"
