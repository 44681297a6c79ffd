"""Projects: create, change, archive; their members; label set uploads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest

from annotate.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    AuditAction,
    Decision,
    Gold,
    GoldMethod,
    Item,
    Job,
    Project,
    QueueStrategy,
    Role,
)
from annotate.queries import label_sets_visible_to, manages_projects
from annotate.services import deferred
from annotate.services.audit import audit_record, changed
from annotate.services.care import care_settings_errors
from annotate.services.learning import (
    project_queue_configure,
    queue_settings_data,
    queue_settings_of,
    queue_settings_parse,
)
from annotate.services.planner import tables_analyze
from annotate.services.queue import assignments_end
from labelsets.models import LabelSet, LabelSetVersion
from labelsets.services import LabelSetPlan, labelset_load, labelset_plan


@dataclass(frozen=True)
class ProjectSettings:
    """Everything a manager sets on a project (the project form), checked by
    project_create and project_update."""

    name: str
    label_set_version: LabelSetVersion
    overlap: int = 3
    lease: timedelta = timedelta(minutes=30)
    guidelines: str = ""
    extra_labels_max: int = 0
    disagreement_threshold: float = 0.35
    gold_method: GoldMethod = GoldMethod.MAJORITY
    queue_strategy: QueueStrategy = QueueStrategy.HYBRID
    queue_settings: Mapping[str, Any] = field(default_factory=dict)
    # Annotator care (services.care): None is no cap on flagged items.
    flagged_cap: int | None = None
    flagged_window: timedelta = timedelta(hours=4)


MAX_LEASE = timedelta(days=1)


def _settings_check(
    settings: ProjectSettings, *, project: Project | None = None
) -> dict[str, object]:
    """The stored queue settings, once every setting is checked; raises
    ValidationError naming each bad one (all of them at once)."""
    errors: dict[str, list[ValidationError]] = {}

    def refuse(name: str, message: str, code: str = "invalid") -> None:
        errors.setdefault(name, []).append(ValidationError(message, code=code))

    name = settings.name.strip()
    others = Project.objects.filter(name=name)
    if project is not None:
        others = others.exclude(pk=project.pk)
    if not name:
        refuse("name", "Give the project a name.", "required")
    elif others.exists():
        refuse("name", f"A project named {name!r} already exists.", "duplicate_name")
    if settings.overlap < 1:
        refuse("overlap", "Overlap must be at least 1.", "invalid_overlap")
    if not timedelta(minutes=1) <= settings.lease <= MAX_LEASE:
        refuse("lease", "A claim lasts from 1 minute to 24 hours.")
    if settings.extra_labels_max < 0:
        refuse("extra_labels_max", "Extra labels cannot be negative.")
    if not 0 <= settings.disagreement_threshold <= 1:
        refuse("disagreement_threshold", "The threshold is between 0 and 1.")
    for key, error in care_settings_errors(
        flagged_cap=settings.flagged_cap, flagged_window=settings.flagged_window
    ).items():
        errors.setdefault(key, []).append(error)
    stored: dict[str, object] = {}
    try:
        stored = queue_settings_data(
            queue_settings_parse(
                schema=settings.label_set_version.schema,
                data=settings.queue_settings,
            )
        )
    except ValidationError as e:
        for key, messages in e.error_dict.items():
            errors.setdefault(key, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return stored


@transaction.atomic
def project_create(
    *,
    name: str,
    label_set_version: LabelSetVersion,
    overlap: int = 3,
    lease: timedelta = timedelta(minutes=30),
    guidelines: str = "",
    extra_labels_max: int = 0,
    disagreement_threshold: float = 0.35,
    gold_method: GoldMethod = GoldMethod.MAJORITY,
    queue_strategy: QueueStrategy = QueueStrategy.HYBRID,
    queue_settings: Mapping[str, Any] | None = None,
    flagged_cap: int | None = None,
    flagged_window: timedelta = timedelta(hours=4),
    created_by: User | None = None,
    now: datetime,
) -> Project:
    """Create a project labelled under one label set version.

    Who may: staff users and managers of any project (queries.manages_projects),
    so an annotator cannot start projects; the operator makes the first
    manager (`manage.py create_project` and `add_member`, which pass no
    `created_by`). The creator becomes the project's manager, and must be
    able to see the label set (queries.label_sets_visible_to). Raises
    PermissionDenied otherwise.

    Raises ValidationError naming each bad setting: the name taken (code
    `duplicate_name`) or empty, overlap below 1 (code `invalid_overlap`),
    a lease outside 1 minute..24 hours, negative extra labels, a threshold
    outside 0..1, a queue setting out of its range
    (learning.queue_settings_parse), a cap on flagged items or its window
    out of range (care.care_settings_errors). Nothing is stored then.
    """
    settings = ProjectSettings(
        name=name,
        label_set_version=label_set_version,
        overlap=overlap,
        lease=lease,
        guidelines=guidelines,
        extra_labels_max=extra_labels_max,
        disagreement_threshold=disagreement_threshold,
        gold_method=gold_method,
        queue_strategy=queue_strategy,
        queue_settings=queue_settings or {},
        flagged_cap=flagged_cap,
        flagged_window=flagged_window,
    )
    if created_by is not None:
        if not manages_projects(created_by):
            raise PermissionDenied(
                "Only staff and project managers can create projects."
            )
        if (
            not label_sets_visible_to(created_by)
            .filter(pk=label_set_version.label_set_id)
            .exists()
        ):
            raise PermissionDenied("You cannot use that label set.")
    stored = _settings_check(settings)
    project = Project.objects.create(
        name=settings.name.strip(),
        label_set_version=label_set_version,
        overlap=overlap,
        lease=lease,
        guidelines=guidelines,
        extra_labels_max=extra_labels_max,
        disagreement_threshold=disagreement_threshold,
        gold_method=gold_method,
        queue_strategy=queue_strategy,
        queue_settings=stored,
        flagged_cap=flagged_cap,
        flagged_window=flagged_window,
        created_at=now,
    )
    if created_by is not None:
        from annotate.services.members import membership_ensure

        membership_ensure(
            actor=created_by,
            project=project,
            username=created_by.username,
            role=Role.MANAGER,
            now=now,
        )
    return project


@dataclass
class ProjectUpdate:
    """What project_update did, or would do: `consequences` for existing
    items, in words, which a manager confirms before they happen."""

    project: Project
    applied: bool
    consequences: list[str]
    job: Job | None = None  # the queue's rescore, when one was queued


@transaction.atomic
def project_update(
    *,
    project: Project,
    settings: ProjectSettings,
    confirmed: bool,
    updated_by: User | None,
    now: datetime,
) -> ProjectUpdate:
    """Change a project's settings, keeping its items, gold and counters true
    to them.

    Refused (ValidationError naming the setting, nothing stored) when the
    change would break what exists: another label set version once the
    project has labels or decisions (code `labels_exist`: they would no
    longer be comparable); an overlap below the labels an item has or is
    being given (code `below_labels`: it would be over-filled); any change
    to an archived project (code `archived`).

    A change that acts on existing items is applied only when `confirmed`;
    otherwise nothing is stored, and the result lists what it would do
    (applied False): a higher overlap reopens complete items and withdraws
    their gold until they have the new number of labels (a reviewer's
    decision stays); a lower one completes items and gives them gold; a new
    threshold or extra-label allowance opens or closes extra slots on items
    now; a new gold method recomputes the gold. Without such consequences,
    the change is stored at once. A new queue strategy, queue settings,
    label set version or overlap rescores the queue (a job, returned).
    """
    project.refuse_if_archived("its settings cannot be changed")
    stored = _settings_check(settings, project=project)
    overlap_or_slots = (
        settings.overlap != project.overlap
        or settings.extra_labels_max != project.extra_labels_max
        or settings.disagreement_threshold != project.disagreement_threshold
    )
    if overlap_or_slots:
        # Items first, then the project row, as a submit takes them (its
        # item's counter, then the project's): the same order cannot
        # deadlock. With the items locked, no claim, submit or expiry
        # changes the counts below until this commits.
        list(
            Item.objects.select_for_update()
            .filter(project=project)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    project = Project.objects.select_for_update().get(pk=project.pk)
    project.refuse_if_archived("its settings cannot be changed")
    _breaking_check(project, settings)
    consequences = _consequences(project, settings)
    if consequences and not confirmed:
        return ProjectUpdate(project=project, applied=False, consequences=consequences)

    old = project
    before, after = changed(
        _settings_of(old),
        {
            **{f.name: getattr(settings, f.name) for f in fields(settings)},
            "name": settings.name.strip(),
            "label_set_version": settings.label_set_version.pk,
            "queue_settings": stored,
        },
    )
    if "queue_settings" in after:
        # Of the queue settings, the ones changed.
        before["queue_settings"], after["queue_settings"] = changed(
            before["queue_settings"], after["queue_settings"]
        )
        if not after["queue_settings"]:
            del before["queue_settings"], after["queue_settings"]
    if after:
        audit_record(
            project_id=project.pk,
            actor=updated_by,
            action=AuditAction.SETTINGS_CHANGE,
            obj=project,
            before=before,
            after=after,
            now=now,
        )
    Project.objects.filter(pk=project.pk).update(
        name=settings.name.strip(),
        label_set_version=settings.label_set_version,
        overlap=settings.overlap,
        lease=settings.lease,
        guidelines=settings.guidelines,
        extra_labels_max=settings.extra_labels_max,
        disagreement_threshold=settings.disagreement_threshold,
        gold_method=settings.gold_method,
        flagged_cap=settings.flagged_cap,
        flagged_window=settings.flagged_window,
    )
    project = Project.objects.select_related("label_set_version").get(pk=project.pk)
    if settings.overlap != old.overlap:
        _overlap_apply(project, old.overlap)
    if overlap_or_slots:
        items_extra_slots_update(project=project)
    if settings.gold_method != old.gold_method:
        _gold_recompute(project)
    job = None
    if (
        settings.queue_strategy != old.queue_strategy
        or stored != old.queue_settings
        or settings.label_set_version.pk != old.label_set_version_id
        or settings.overlap != old.overlap
    ):
        job = project_queue_configure(
            project=project,
            strategy=settings.queue_strategy,
            settings=stored,
            created_by=updated_by,
            now=now,
        )
    return ProjectUpdate(
        project=project, applied=True, consequences=consequences, job=job
    )


def _settings_of(project: Project) -> dict[str, Any]:
    """The project's ProjectSettings fields as stored, for the audit's diff:
    its queue settings with the defaults it runs with filled in (a project
    may store fewer), so only a setting really changed shows."""
    return {
        f.name: getattr(project, f.name)
        for f in fields(ProjectSettings)
        if f.name != "label_set_version"
    } | {
        "label_set_version": project.label_set_version_id,
        "queue_settings": queue_settings_data(queue_settings_of(project)),
    }


def _live_claims() -> Subquery:
    """Per item (an Item queryset's row), its live claims."""
    return Subquery(
        Assignment.objects.filter(item=OuterRef("pk"), status=AssignmentStatus.LIVE)
        .values("item")
        .annotate(n=Count("pk"))
        .values("n")
    )


def _breaking_check(project: Project, settings: ProjectSettings) -> None:
    errors: dict[str, ValidationError] = {}
    if settings.label_set_version.pk != project.label_set_version_id:
        labels = Annotation.objects.filter(item__project=project).count()
        decisions = Decision.objects.filter(item__project=project).count()
        if labels or decisions:
            errors["label_set_version"] = ValidationError(
                f"The label set cannot change: {labels} labels and {decisions} "
                f"decisions were made under {project.label_set_version}, and labels "
                "are only comparable under one version. Create a new project for "
                f"{settings.label_set_version}.",
                code="labels_exist",
            )
    if settings.overlap < project.overlap:
        given = (
            Item.objects.filter(project=project)
            # Slots reserved for assigned work count as given: they are promised.
            .annotate(
                given=F("annotations_count")
                + Coalesce(_live_claims(), 0)
                + F("reserved")
            )
            .filter(given__gt=settings.overlap)
        )
        most = given.aggregate(most=Max("given"))["most"]
        if most is not None:
            errors["overlap"] = ValidationError(
                f"{given.count()} items already have (or are being given, or are "
                f"assigned for) more "
                f"than {settings.overlap} labels: the labels per item can go no "
                f"lower than {most}.",
                code="below_labels",
            )
    if errors:
        raise ValidationError(errors)


def _consequences(project: Project, settings: ProjectSettings) -> list[str]:
    """What the new settings do to existing items, in words; empty when
    they change nothing that exists."""
    found: list[str] = []
    items = Item.objects.filter(project=project)
    old, new = project.overlap, settings.overlap
    if new > old:
        reopened = items.filter(annotations_count__gte=old, annotations_count__lt=new)
        n = reopened.count()
        if n:
            gold = reopened.filter(gold__isnull=False, decisions__isnull=True)
            found.append(
                f"Raising the labels per item from {old} to {new} reopens {n} "
                f"complete items: they go back into the queue for more labels, and "
                f"the gold of {gold.distinct().count()} of them is withdrawn until "
                "they have them (items a reviewer decided keep their decision)."
            )
    elif new < old:
        n = items.filter(annotations_count__gte=new, annotations_count__lt=old).count()
        if n:
            found.append(
                f"Lowering the labels per item from {old} to {new} completes {n} "
                f"items that have {new} labels: they leave the queue and get gold "
                "from the labels they have."
            )
    opened, closed = _extra_slot_sets(
        project,
        overlap=new,
        extra=settings.extra_labels_max,
        threshold=settings.disagreement_threshold,
    )
    if n_opened := opened.count():
        found.append(
            f"{n_opened} complete items whose labels disagree get one more label each."
        )
    if n_closed := closed.count():
        found.append(f"{n_closed} items waiting for an extra label no longer get one.")
    if settings.gold_method != project.gold_method:
        n = Gold.objects.filter(item__project=project).count()
        if n:
            how = (
                "weighted by each annotator's reliability at the next hourly run "
                "(until then they keep their gold)"
                if settings.gold_method == GoldMethod.WEIGHTED
                else "by majority now"
            )
            found.append(
                f"The gold of {n} items is recomputed {how}; reviewers' decisions stay."
            )
    return found


def _extra_slot_sets(
    project: Project, *, overlap: int, extra: int, threshold: float
) -> tuple[QuerySet[Item], QuerySet[Item]]:
    """(complete items that get an extra slot, those whose open extra slot
    closes) under these settings: gold.item_rescore's rule, applied to every
    complete item at once."""
    complete = Item.objects.filter(project=project, annotations_count__gte=overlap)
    deserves = Q(disagreement__gt=threshold, annotations_count__lt=overlap + extra)
    opened = (
        complete.filter(deserves, slots_left=0)
        .annotate(live=Coalesce(_live_claims(), 0))
        .filter(live=0)
    )
    closed = complete.filter(slots_left__gt=0).exclude(deserves)
    return opened, closed


def items_extra_slots_update(*, project: Project) -> None:
    """Open or close the extra slots of the project's complete items under
    its settings now (after a new threshold, allowance or overlap): the rule
    gold.item_rescore applies to one item after each label. Call with the
    items locked (project_update)."""
    opened, closed = _extra_slot_sets(
        project,
        overlap=project.overlap,
        extra=project.extra_labels_max,
        threshold=project.disagreement_threshold,
    )
    # Ids first: an UPDATE cannot filter on the annotation.
    reslotted = Item.objects.filter(
        pk__in=list(opened.values_list("pk", flat=True))
    ).update(slots_left=1)
    reslotted += closed.update(slots_left=0)
    tables_analyze(written={Item: reslotted})


def _overlap_apply(project: Project, old: int) -> None:
    """Slots, gold and the complete counter after the overlap moved from `old`."""
    new = project.overlap
    items = Item.objects.filter(project=project)
    withdrawn = 0
    if new > old:
        # Each item short of the new overlap gets the slots it lacks; an
        # extra slot it had counts among them, and a full item keeps its own.
        reslotted = items.update(
            slots_left=Greatest(
                F("slots_left"),
                new - F("annotations_count") - Coalesce(_live_claims(), 0),
            )
        )
        withdrawn, _ = (
            Gold.objects.filter(item__project=project, item__annotations_count__lt=new)
            .exclude(item__decisions__isnull=False)
            .delete()
        )
    else:
        # _breaking_check made sure no item has more labels (or claims) than
        # the new overlap, so none holds an extra slot: the slots shrink.
        reslotted = items.update(slots_left=Greatest(F("slots_left") - (old - new), 0))
        # Owed in the database, as after a label, so a broker that is down
        # loses none of them (services.deferred).
        items.filter(annotations_count=new).update(rescore_due=True)
        deferred.rescore_soon()
    Project.objects.filter(pk=project.pk).update(
        items_complete=items.filter(annotations_count__gte=new).count()
    )
    tables_analyze(written={Item: reslotted, Gold: withdrawn})


def _gold_recompute(project: Project) -> None:
    """After a new gold method: majority gold is rewritten by the rescoring
    that follows labels (every item with gold marked due); weighted gold
    waits for the hourly run."""
    if project.gold_method == GoldMethod.WEIGHTED:
        return
    Item.objects.filter(
        project=project,
        pk__in=Gold.objects.filter(item__project=project).values("item_id"),
    ).update(rescore_due=True)
    deferred.rescore_soon()


@transaction.atomic
def project_archive(*, project: Project, actor: User | None, now: datetime) -> Project:
    """Archive a project: read-only from now on (Project.refuse_if_archived
    says what is refused), off the home page, still readable and
    exportable. Its live claims end at once, their slots back on their items.

    Idempotent: an archived project keeps its first archiving time (and is
    audited once).
    Memberships are kept, so the same people see it (and can unarchive it).
    """
    project = Project.objects.get(pk=project.pk)
    if project.archived_at is None:
        # The claims first, then the project row: a submit locks its claim
        # and last the project row (its counter), so taking them the other
        # way round could deadlock with one.
        assignments_end(project=project)
        if Project.objects.filter(pk=project.pk, archived_at__isnull=True).update(
            archived_at=now
        ):
            audit_record(
                project_id=project.pk,
                actor=actor,
                action=AuditAction.ARCHIVE,
                obj=project,
                before={"archived_at": None},
                after={"archived_at": now.isoformat()},
                now=now,
            )
    return Project.objects.get(pk=project.pk)


@transaction.atomic
def project_unarchive(
    *, project: Project, actor: User | None, now: datetime
) -> Project:
    """Make an archived project writable again; idempotent (audited when
    it was archived). Claims start afresh: the ones archiving ended are not
    given back."""
    archived_at = (
        Project.objects.select_for_update()
        .filter(pk=project.pk)
        .values_list("archived_at", flat=True)
        .first()
    )
    if archived_at is not None:
        Project.objects.filter(pk=project.pk).update(archived_at=None)
        audit_record(
            project_id=project.pk,
            actor=actor,
            action=AuditAction.UNARCHIVE,
            obj=project,
            before={"archived_at": archived_at.isoformat()},
            after={"archived_at": None},
            now=now,
        )
    project.archived_at = None
    return project


def label_set_version_get(*, name: str, number: int | None = None) -> LabelSetVersion:
    """A label set version by name (latest unless `number`); ValidationError if unknown."""
    label_set = LabelSet.objects.filter(name=name).first()
    if label_set is None:
        known = ", ".join(LabelSet.objects.values_list("name", flat=True)) or "none"
        raise ValidationError(
            {"label_set": f"No label set named {name!r} (known: {known})."},
            code="unknown",
        )
    versions = label_set.versions.order_by("-number")
    version = versions.filter(number=number).first() if number else versions.first()
    if version is None:
        raise ValidationError(
            {"label_set": f"{name} has no version {number}."}, code="unknown"
        )
    return version


# Label sets from the browser ------------------------------------------------


def labelset_upload_plan(*, data: Mapping[str, object], user: User) -> LabelSetPlan:
    """What uploading this label set file would store (labelsets'
    labelset_plan), for a user who may upload: staff and managers of any
    project. PermissionDenied for others; SchemaError for a malformed file;
    ValidationError (code `not_yours`) for a version of someone else's set.
    Writes nothing."""
    _upload_allowed_check(user)
    return labelset_plan(data=data, created_by=user)


def labelset_upload(
    *, data: Mapping[str, object], user: User, now: datetime
) -> tuple[LabelSetVersion, bool]:
    """Store an uploaded label set file as labelset_load does, its uploader
    recorded: (version, created). The same rules and errors as
    labelset_upload_plan; all or nothing."""
    _upload_allowed_check(user)
    return labelset_load(data=data, created_by=user, now=now)


def _upload_allowed_check(user: User) -> None:
    if not manages_projects(user):
        raise PermissionDenied("Only staff and project managers can upload label sets.")
