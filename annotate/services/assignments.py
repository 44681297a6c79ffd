"""Directed work: batches of items a manager assigns to chosen annotators,
moving them between annotators, and quotas.

An allocation holds one of its item's slots for its annotator
(Item.reserved) until they claim it, so the pool never takes it from them
and overlap is never exceeded: the pool serves only an item's slots beyond
the reserved ones (rawsql._OPEN), and the claim's assigned stream turns a
reserved slot into a claim (rawsql.ASSIGNED_ITEM_SQL). Blindness holds as in
the pool: an annotator sees only the item, never whom else it went to.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from annotate.models import (
    Allocation,
    AllocationState,
    Annotation,
    Assignment,
    AssignmentStatus,
    AuditAction,
    Batch,
    Item,
    Membership,
    Project,
    SavedSearch,
)
from annotate.queries import (
    SEARCH_TIMEOUT_MS,
    SearchTooSlow,
    search_deadline,
    transcripts_matching,
)
from annotate.services.audit import audit_record, changed
from annotate.services.planner import tables_analyze
from annotate.services.searches import saved_search_of

# At most this many items per batch: one request's worth of rows to lock.
MAX_BATCH_ITEMS = 10_000
SELECTION_KEYS = (
    "source_model",
    "dataset",
    "prompt_group",
    "metadata_key",
    "metadata_value",
    "limit",
    "saved_search",
)


def batch_items(
    *, project: Project, selection: Mapping[str, Any]
) -> tuple[QuerySet[Item], SavedSearch | None]:
    """The project's items a selection picks, most informative first, and
    the saved search it used (None without one): the items with a free slot
    beyond the reserved ones, by source model, data set, prompt group, a
    metadata key's value and the transcripts a saved search matches (each
    optional), the first `limit` (the next N by priority).

    Raises ValidationError (field `saved_search`) naming a saved search id
    that is none of the project's. Evaluate the items inside _deadline.
    """
    items = Item.objects.filter(project=project, slots_left__gt=F("reserved"))
    for key, lookup in (
        ("source_model", "transcript__source_model"),
        ("dataset", "transcript__dataset"),
        ("prompt_group", "transcript__prompt_group"),
    ):
        if selection.get(key):
            items = items.filter(**{lookup: selection[key]})
    if selection.get("metadata_key"):
        # The key as one JSON key whatever it holds ("a__b" is not a path).
        items = items.annotate(
            # Cast: a bare key transform compares as JSON, so SQLite would
            # read the value asked for as a JSON document.
            meta_value=Cast(
                KeyTextTransform(
                    str(selection["metadata_key"]), "transcript__metadata"
                ),
                TextField(),
            )
        ).filter(meta_value=str(selection.get("metadata_value", "")))
    search = None
    if selection.get("saved_search"):
        search = saved_search_of(
            project=project, search_id=int(selection["saved_search"])
        )
        # The browser's own filtering, without its viewer: a manager's batch
        # is not about what they label themselves.
        items = items.filter(
            transcript__in=transcripts_matching(project=project, filters=search.filters)
        )
    limit = int(selection.get("limit") or MAX_BATCH_ITEMS)
    items = items.order_by("-priority", "transcript_id")[: min(limit, MAX_BATCH_ITEMS)]
    return items, search


def batch_items_preview(
    *, project: Project, selection: Mapping[str, Any], limit: int
) -> list[Item]:
    """The first `limit` items batch_items picks, with their transcripts.
    Raises ValidationError as batch_items, and (field `saved_search`, code
    `too_slow`) when the saved search's text search runs out of time."""
    items, search = batch_items(project=project, selection=selection)
    with _deadline(search):
        return list(items.select_related("transcript")[:limit])


@contextmanager
def _deadline(search: SavedSearch | None) -> Iterator[None]:
    """The browser's time limit on a saved search's text search, as a
    ValidationError the batch form shows."""
    try:
        with search_deadline(on=search is not None and bool(search.text)):
            yield
    except SearchTooSlow:
        raise ValidationError(
            {
                "saved_search": ValidationError(
                    f"The saved search's text search took longer than "
                    f"{SEARCH_TIMEOUT_MS // 1000} seconds and was stopped: narrow "
                    "the batch by model or dataset, or save a narrower search.",
                    code="too_slow",
                )
            }
        ) from None


def members_for_assignment(
    *, project: Project, usernames: Sequence[str]
) -> list[Membership]:
    """The active members named, in order. Raises ValidationError (field
    `annotators`) naming those who are not members or are deactivated."""
    names = list(dict.fromkeys(n.strip() for n in usernames if n.strip()))
    if not names:
        raise ValidationError({"annotators": "Choose at least one annotator."})
    found = {
        m.user.username: m
        for m in Membership.objects.filter(
            project=project, user__username__in=names
        ).select_related("user")
    }
    problems = []
    missing = [n for n in names if n not in found]
    if missing:
        problems.append(f"not members of this project: {', '.join(missing)}")
    inactive = [n for n in names if n in found and not found[n].is_active]
    if inactive:
        problems.append(f"deactivated: {', '.join(inactive)}")
    if problems:
        raise ValidationError(
            {"annotators": f"Cannot assign work to {'; '.join(problems)}."}
        )
    return [found[n] for n in names]


@dataclass
class BatchResult:
    batch: Batch
    per_annotator: dict[str, int]
    # Items some chosen annotators could not get: no free slot left for them
    # (overlap), or they had already claimed, labelled or been assigned it.
    left_out: dict[str, int] = field(default_factory=dict)


def _taken(
    project: Project, user_ids: list[int], item_ids: list[int]
) -> set[tuple[int, int]]:
    """(item, annotator) pairs that cannot be allocated again: a claim of
    theirs that did not expire, or an allocation already made."""
    claimed = Assignment.objects.filter(
        project=project, annotator_id__in=user_ids, item_id__in=item_ids
    ).exclude(status=AssignmentStatus.EXPIRED)
    allocated = Allocation.objects.filter(
        project=project, annotator_id__in=user_ids, item_id__in=item_ids
    )
    return set(claimed.values_list("item_id", "annotator_id")) | set(
        allocated.values_list("item_id", "annotator_id")
    )


@transaction.atomic
def batch_create(
    *,
    project: Project,
    name: str,
    selection: Mapping[str, Any],
    usernames: Sequence[str],
    mode: Batch.Mode,
    created_by: User | None,
    now: datetime,
) -> BatchResult:
    """Assign the items a selection picks to the named annotators: in mode
    `each` every annotator gets every item, overlap permitting (an item's
    free slots go to the annotators in turn, the first one rotating); in
    mode `split` the items are shared out in turn. Each allocation reserves
    a slot of its item.

    The items are locked while their slots are counted, so a concurrent
    claim steps over them (SKIP LOCKED) instead of taking a slot counted
    here. Raises ValidationError naming non-members and deactivated members,
    as batch_items_preview for the saved search, or when the selection picks no
    item with a free slot, or in an archived project (code `archived`);
    nothing is saved.
    """
    project.refuse_if_archived("no work can be assigned in it")
    members = members_for_assignment(project=project, usernames=usernames)
    chosen, search = batch_items(project=project, selection=selection)
    with _deadline(search):
        chosen_ids = list(chosen.values_list("pk", flat=True))
    rows = list(
        Item.objects.filter(pk__in=chosen_ids)
        .select_for_update(no_key=True)
        .order_by("-priority", "transcript_id")
        .values_list("pk", "slots_left", "reserved")
    )
    if not rows:
        raise ValidationError("No open item matches this selection.", code="empty")
    user_ids = [m.user_id for m in members]
    taken = _taken(project, user_ids, [r[0] for r in rows])
    name_of = {m.user_id: m.user.username for m in members}
    pairs: list[tuple[int, int]] = []
    left_out: Counter[str] = Counter()
    for n, (item_id, slots_left, reserved) in enumerate(rows):
        free = slots_left - reserved
        # Each annotator in turn, starting one further for every item.
        turn = [user_ids[(n + k) % len(user_ids)] for k in range(len(user_ids))]
        eligible = [u for u in turn if (item_id, u) not in taken]
        if mode == Batch.Mode.EACH:
            given = eligible[:free]
            for u in set(user_ids) - set(given):
                left_out[name_of[u]] += 1
        else:
            given = eligible[:1] if free > 0 else []
        pairs.extend((item_id, u) for u in given)
    if not pairs:
        raise ValidationError(
            "None of these items has a free slot for these annotators.", code="full"
        )
    batch = Batch.objects.create(
        project=project,
        name=name.strip() or f"Batch of {now:%Y-%m-%d %H:%M}",
        mode=mode,
        selection={
            **{k: selection[k] for k in SELECTION_KEYS if selection.get(k)},
            # The search's name with its id: the batch page says what picked
            # the items even after the search is deleted.
            **(
                {"saved_search": {"id": search.pk, "name": search.name}}
                if search
                else {}
            ),
        },
        items_count=len({i for i, _ in pairs}),
        allocations_count=len(pairs),
        created_by=created_by,
        created_at=now,
    )
    Allocation.objects.bulk_create(
        Allocation(
            batch=batch, project=project, item_id=i, annotator_id=u, created_at=now
        )
        for i, u in pairs
    )
    _reserve(Counter(i for i, _ in pairs))
    tables_analyze(written={Allocation: len(pairs), Item: batch.items_count})
    per_annotator = Counter(u for _, u in pairs)
    for user_id, n in per_annotator.items():
        Membership.objects.filter(project=project, user_id=user_id).update(
            assigned_open=F("assigned_open") + n
        )
    audit_record(
        project_id=project.pk,
        actor=created_by,
        action=AuditAction.BATCH_CREATE,
        obj=batch,
        object_repr=batch.name,
        before={},
        after={
            "mode": mode,
            "items_count": batch.items_count,
            "assigned": {name_of[u]: per_annotator[u] for u in user_ids},
        },
        now=now,
    )
    return BatchResult(
        batch=batch,
        per_annotator={name_of[u]: per_annotator[u] for u in user_ids},
        left_out=dict(left_out),
    )


def _reserve(per_item: Mapping[int, int]) -> None:
    """Item.reserved += n for each item: one UPDATE per distinct n."""
    by_count: defaultdict[int, list[int]] = defaultdict(list)
    for item_id, n in per_item.items():
        by_count[n].append(item_id)
    for n, ids in by_count.items():
        Item.objects.filter(pk__in=ids).update(reserved=F("reserved") + n)


@transaction.atomic
def allocations_move(
    *,
    project: Project,
    from_username: str,
    to_usernames: Sequence[str],
    actor: User | None,
    now: datetime,
) -> dict[str, int]:
    """Move a member's unstarted allocations to others, in turn; each moved
    one keeps its reserved slot. An item every target has already claimed,
    labelled or been assigned stays where it is. Returns how many each
    target got (and `kept`: those that stayed). Raises ValidationError
    naming a source or a target who is not a member, or a target who is
    deactivated, or in an archived project."""
    project.refuse_if_archived("no work can be moved in it")
    (source,) = _member_named(project, from_username, field="from_annotator")
    targets = members_for_assignment(
        project=project, usernames=[n for n in to_usernames if n != from_username]
    )
    pending = list(
        Allocation.objects.filter(
            project=project, annotator_id=source.user_id, state=AllocationState.PENDING
        )
        .select_for_update()
        .order_by("pk")
    )
    target_ids = [m.user_id for m in targets]
    taken = _taken(project, target_ids, [a.item_id for a in pending])
    moved: list[tuple[Allocation, int]] = []
    for n, allocation in enumerate(pending):
        turn = [target_ids[(n + k) % len(target_ids)] for k in range(len(target_ids))]
        target = next((u for u in turn if (allocation.item_id, u) not in taken), None)
        if target is not None:
            moved.append((allocation, target))
            taken.add((allocation.item_id, target))
    Allocation.objects.filter(pk__in=[a.pk for a, _ in moved]).update(
        state=AllocationState.MOVED
    )
    Allocation.objects.bulk_create(
        Allocation(
            batch_id=a.batch_id,
            project=project,
            item_id=a.item_id,
            annotator_id=u,
            created_at=now,
        )
        for a, u in moved
    )
    tables_analyze(written={Allocation: 2 * len(moved)})  # each moved, and its copy
    got = Counter(u for _, u in moved)
    Membership.objects.filter(pk=source.pk).update(
        assigned_open=F("assigned_open") - len(moved)
    )
    for user_id, n in got.items():
        Membership.objects.filter(project=project, user_id=user_id).update(
            assigned_open=F("assigned_open") + n
        )
    name_of = {m.user_id: m.user.username for m in targets}
    result = {
        **{name_of[u]: got[u] for u in target_ids},
        "kept": len(pending) - len(moved),
    }
    if moved:
        audit_record(
            project_id=project.pk,
            actor=actor,
            action=AuditAction.ALLOCATIONS_MOVE,
            obj=source,
            object_repr=from_username.strip(),
            before={"assigned": {from_username.strip(): len(moved)}},
            after={"assigned": {name_of[u]: got[u] for u in target_ids if got[u]}},
            now=now,
        )
    return result


def _member_named(project: Project, username: str, *, field: str) -> list[Membership]:
    found = list(
        Membership.objects.filter(project=project, user__username=username.strip())
    )
    if not found:
        raise ValidationError({field: f"{username} is not a member of this project."})
    return found


@transaction.atomic
def membership_quota_set(
    *,
    membership: Membership,
    quota_day: int | None,
    quota_total: int | None,
    actor: User | None,
    now: datetime,
) -> Membership:
    """Set a member's quotas (None: no limit). Refused, naming the number,
    below what they have labelled today (for the daily quota) or in all,
    and in an archived project."""
    membership.project.refuse_if_archived("its quotas cannot be changed")
    current = Membership.objects.select_for_update().get(pk=membership.pk)
    today = current.today_count if current.today == now.date() else 0
    errors = {}
    if quota_day is not None and quota_day < today:
        errors["quota_day"] = (
            f"{current.user.username} has labelled {today} items today; "
            f"a daily quota must be at least {today}."
        )
    if quota_total is not None and quota_total < current.annotations_count:
        errors["quota_total"] = (
            f"{current.user.username} has labelled {current.annotations_count} "
            f"items in all; a total quota must be at least {current.annotations_count}."
        )
    if errors:
        raise ValidationError(errors)
    before, after = changed(
        {"quota_day": current.quota_day, "quota_total": current.quota_total},
        {"quota_day": quota_day, "quota_total": quota_total},
    )
    if after:
        audit_record(
            project_id=current.project_id,
            actor=actor,
            action=AuditAction.QUOTA_SET,
            obj=current,
            object_repr=current.user.username,
            before=before,
            after=after,
            now=now,
        )
    Membership.objects.filter(pk=current.pk).update(
        quota_day=quota_day, quota_total=quota_total
    )
    current.quota_day, current.quota_total = quota_day, quota_total
    return current


def batch_progress(batch: Batch) -> list[dict[str, Any]]:
    """Per annotator of a batch: allocations not started, in progress
    (claimed, not labelled), labelled, skipped and moved away."""
    rows: dict[str, dict[str, Any]] = {}
    labelled = set(
        Annotation.objects.filter(
            item_id__in=Allocation.objects.filter(batch=batch).values("item_id"),
            is_human=True,
        ).values_list("item_id", "annotator_id")
    )
    for item_id, user_id, username, state in Allocation.objects.filter(
        batch=batch
    ).values_list("item_id", "annotator_id", "annotator__username", "state"):
        row = rows.setdefault(
            username,
            {
                "annotator": username,
                "pending": 0,
                "started": 0,
                "labelled": 0,
                "skipped": 0,
                "moved": 0,
            },
        )
        if state == AllocationState.CLAIMED:
            row["labelled" if (item_id, user_id) in labelled else "started"] += 1
        elif state == AllocationState.PENDING:
            row["pending"] += 1
        else:
            row[str(state)] += 1
    for row in rows.values():
        row["total"] = sum(
            row[k] for k in ("pending", "started", "labelled", "skipped")
        )
    return sorted(rows.values(), key=lambda r: r["annotator"])
