"""Disagreement and gold: rescored per item after each label, weighted gold,
reviewers' decisions."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.fields.json import KeyTextTransform

from annotate.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    AuditAction,
    Decision,
    Gold,
    GoldMethod,
    Item,
    Project,
    ReviewClaim,
)
from annotate.services.audit import audit_record, changed
from annotate.services.planner import tables_analyze
from labelsets.schema import Field, Schema

# Disagreement: scored per item after each new or corrected label, by a task
# that takes every item marked due (Item.rescore_due) a batch at a time.

RESCORE_BATCH = 500


def item_rescore(*, item_id: int, now: datetime) -> Item | None:
    """Rescore an item after a label: how much its labels disagree, whether it
    gets one more labelling slot, and its gold. None if the item is gone.

    The score, stored on item.disagreement, is the normalised entropy of the
    disagreement field's values over its options (agreement.normalised_entropy:
    0 when all agree, 1 when spread evenly); None when the label set has no
    field to score. An item scoring above its project's disagreement_threshold
    that has no slot left, no live claim and fewer than overlap +
    extra_labels_max labels gets one slot, so the queue serves it to one more
    annotator (never one who has seen it). The gold (item.gold) aggregates
    the labels per field, a reviewer's latest decision winning (gold_store).
    Idempotent: a second run finds the slot open or claimed and writes the
    same gold.
    """
    rescored = items_rescore(item_ids=[item_id], now=lambda: now)
    return rescored[0] if rescored else None


def items_rescore_due(*, now: Callable[[], datetime]) -> int:
    """Rescore every item marked due, RESCORE_BATCH at a time (each batch its
    own transaction, so submits wait on a batch's locks only briefly); the
    number rescored. Items marked while it runs are taken too; it stops at
    the first short batch, leaving later ones to the next run."""
    done = 0
    while True:
        due = list(
            Item.objects.filter(rescore_due=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:RESCORE_BATCH]
        )
        if due:
            done += len(items_rescore(item_ids=due, now=now, due_only=True))
        if len(due) < RESCORE_BATCH:
            return done


@transaction.atomic
def items_rescore(
    *, item_ids: Collection[int], now: Callable[[], datetime], due_only: bool = False
) -> list[Item]:
    """item_rescore for many items in a handful of queries whatever their
    number; the items rescored (those gone left out, and with `due_only`
    those another run rescored meanwhile). Clears their rescore_due. The
    gold's time is read once the items are locked, so it is never older
    than a label it counts (a submit the lock waited for)."""
    # The row locks make runs for an item take turns, and hold claims (which
    # lock it too, and skip it) and submits (which bump its counter) until
    # the slot is decided, so no claim can land between the check and the
    # grant; a submit that waited marks the item due again once this
    # commits. Taken in id order, as every batch takes them: two runs wait,
    # never deadlock. NO KEY: rows pointing at the items (claims,
    # annotations) can still be inserted meanwhile. OF self: not the
    # project row, which every submit of the project updates.
    locked = (
        Item.objects.select_for_update(no_key=True, of=("self",))
        .select_related("project__label_set_version")
        .defer("project__label_set_version__schema_data")  # schema: parsed once
        .filter(pk__in=item_ids)
        .order_by("pk")
    )
    if due_only:
        # Under the lock: PostgreSQL rereads the row's newest version.
        locked = locked.filter(rescore_due=True)
    items = list(locked)
    if not items:
        return []
    at = now()
    pks = [item.pk for item in items]
    # Whole values, a handful of rows per item: a JSON key read in SQL comes
    # back from SQLite as bare text, which turns an option like "1" into 1.
    labels: dict[int, list[dict[str, object]]] = {pk: [] for pk in pks}
    version_of = {item.pk: item.project.label_set_version_id for item in items}
    for item_id, version_id, values in Annotation.objects.filter(
        item_id__in=pks, is_human=True
    ).values_list("item_id", "label_set_version_id", "values"):
        if version_id == version_of[item_id]:
            labels[item_id].append(values)
    scores = {item.pk: _disagreement(item, labels[item.pk]) for item in items}
    # An extra slot: scoring above the threshold, full, below the allowance,
    # and no live claim (its label is still to come: rescored when it arrives).
    wanting = {
        item.pk
        for item in items
        if (score := scores[item.pk]) is not None
        and score > item.project.disagreement_threshold
        and item.slots_left == 0
        and item.annotations_count
        < item.project.overlap + item.project.extra_labels_max
    }
    claimed = (
        set(
            Assignment.objects.filter(
                item_id__in=wanting, status=AssignmentStatus.LIVE
            ).values_list("item_id", flat=True)
        )
        if wanting
        else set()
    )
    changed = []
    for item in items:
        slots_left = (
            1 if item.pk in wanting and item.pk not in claimed else item.slots_left
        )
        if (scores[item.pk], slots_left) != (item.disagreement, item.slots_left):
            item.disagreement, item.slots_left = scores[item.pk], slots_left
            changed.append(item)
        item.rescore_due = False
    if changed:
        Item.objects.bulk_update(changed, ["disagreement", "slots_left"])
    Item.objects.filter(pk__in=pks, rescore_due=True).update(rescore_due=False)
    _golds_store(items=items, labels=labels, now=at)
    return items


def _disagreement(item: Item, labels: list[dict[str, object]]) -> float | None:
    """The normalised entropy of the item's disagreement field; None without one."""
    # agreement pulls in numpy and scikit-learn (1.6 s): loaded by the worker
    # that runs this, not by every web process at startup.
    import numpy as np

    from annotate.stats.agreement import normalised_entropy

    field = _disagreement_field(item.project.label_set_version.schema)
    if field is None:
        return None
    choices: list[object] = (
        [o.value for o in field.options]
        if field.kind == "single"
        else [lv.value for lv in field.scale]
    )
    column = {value: i for i, value in enumerate(choices)}
    given = [column[v] for vs in labels if (v := vs.get(field.name)) in column]
    counts = np.bincount(np.asarray(given, dtype=np.int64), minlength=len(column))
    score: float = normalised_entropy(counts)
    return score


def _golds_store(
    *, items: list[Item], labels: dict[int, list[dict[str, object]]], now: datetime
) -> None:
    """gold_store for many locked items: one read of their decisions and
    (for weighted gold) their gold, one delete, one upsert."""
    pks = [item.pk for item in items]
    decisions: dict[int, dict[str, Any]] = {}
    for item_id, values in (
        Decision.objects.filter(item_id__in=pks)
        .order_by("item_id", "-number")
        .values_list("item_id", "values")
    ):
        decisions.setdefault(item_id, values)
    weighted = [i.pk for i in items if i.project.gold_method == GoldMethod.WEIGHTED]
    previous = dict(
        Gold.objects.filter(item_id__in=weighted).values_list("item_id", "values")
        if weighted
        else []
    )
    gone, golds = [], []
    for item in items:
        gold = _gold_of(
            item=item,
            labels=labels[item.pk],
            decision=decisions.get(item.pk),
            previous=previous.get(item.pk),
            now=now,
        )
        if gold is None:
            gone.append(item.pk)
        else:
            golds.append(gold)
    if gone:
        Gold.objects.filter(item_id__in=gone).delete()
    if golds:
        Gold.objects.bulk_create(
            golds,
            update_conflicts=True,
            unique_fields=["item"],
            update_fields=["values", "key_resolved", "adjudicated", "updated_at"],
        )


def gold_store(
    *, item: Item, labels: list[dict[str, object]], now: datetime
) -> Gold | None:
    """Write the item's gold from its labels and its latest decision, if any;
    None while it has neither its project's overlap of labels nor a decision.

    Gold needs the overlap: one label of an item that needs two is not gold,
    whether it came by a submit or a correction, and a gold row written
    before (under a lower overlap) goes. Call with the item row locked
    (item_rescore, decision_record), so two writers take turns. Every field
    is aggregated (aggregation.aggregate_item): unanimous, strict majority or
    lower median; a decided field is `adjudicated`.
    """
    decision = Decision.objects.filter(item_id=item.pk).order_by("-number").first()
    previous = None
    if item.project.gold_method == GoldMethod.WEIGHTED:
        previous = (
            Gold.objects.filter(item_id=item.pk)
            .values_list("values", flat=True)
            .first()
        )
    gold = _gold_of(
        item=item,
        labels=labels,
        decision=decision.values if decision is not None else None,
        previous=previous,
        now=now,
    )
    if gold is None:
        Gold.objects.filter(item_id=item.pk).delete()
        return None
    gold, _ = Gold.objects.update_or_create(
        item_id=item.pk,
        defaults={
            "values": gold.values,
            "key_resolved": gold.key_resolved,
            "adjudicated": gold.adjudicated,
            "updated_at": now,
        },
    )
    return gold


def _gold_of(
    *,
    item: Item,
    labels: list[dict[str, object]],
    decision: dict[str, Any] | None,
    previous: dict[str, Any] | None,
    now: datetime,
) -> Gold | None:
    """The item's gold as gold_store's contract says (unsaved); None when it
    has none. `previous`: its gold's values, for weighted gold."""
    from annotate.stats import aggregation  # numpy: loaded where the work runs

    version = item.project.label_set_version
    if decision is None and len(labels) < item.project.overlap:
        return None
    golds = aggregation.aggregate_item(
        aggregation.field_specs(version.schema), labels, decision
    )
    values = {
        name: {"value": g.value, "method": g.method, "confidence": g.confidence}
        for name, g in golds.items()
    }
    if item.project.gold_method == GoldMethod.WEIGHTED:
        # The last weighted run's values stand until the next run: one new
        # label cannot re-weigh every annotator (gold_weighted_update).
        for name, entry in (previous or {}).items():
            if (
                entry.get("method") == "weighted"
                and golds[name].method != "adjudicated"
            ):
                values[name] = entry
    key = _disagreement_field(version.schema)
    return Gold(
        item_id=item.pk,
        values=values,
        key_resolved=key is None or golds[key.name].value is not None,
        adjudicated=decision is not None,
        updated_at=now,
    )


def gold_weighted_update(*, project: Project, now: datetime) -> int:
    """Weighted gold for every one-of field of the project: Dawid-Skene EM
    over all its human labels estimates how each annotator errs, and each
    item's gold is the most probable value (confidence: its posterior).

    A field a reviewer decided stays adjudicated. Items keep this weighted
    gold when new labels arrive until the next run (beat runs it hourly for
    projects whose gold_method is weighted). Written a batch of items at a
    time under their row locks (_weighted_store), so a reviewer's decision
    racing with the run is never overwritten. Returns the items updated.
    """
    import numpy as np

    from annotate.stats import aggregation

    version = project.label_set_version
    singles = [f for f in version.schema.fields if f.kind == "single"]
    if not singles:
        return 0
    extracted = {
        f"v{i}": KeyTextTransform(f.name, "values") for i, f in enumerate(singles)
    }
    items: list[int] = []
    annotators: list[int] = []
    columns: list[list[str | None]] = [[] for _ in singles]
    # Streamed: three short columns per label, whatever the project's size.
    for row in (
        Annotation.objects.filter(
            item__project=project, label_set_version=version, is_human=True
        )
        .annotate(**extracted)
        .values_list("item_id", "annotator_id", *extracted)
        .iterator(chunk_size=5000)
    ):
        items.append(row[0])
        annotators.append(row[1])
        for column, value in zip(columns, row[2:], strict=True):
            column.append(value)
    if not items:
        return 0
    item_ids, item_index = np.unique(np.asarray(items), return_inverse=True)
    _, annotator_index = np.unique(np.asarray(annotators), return_inverse=True)
    weighted: dict[str, list[aggregation.Gold]] = {}
    for single, column in zip(singles, columns, strict=True):
        options = [o.value for o in single.options]
        position = {v: i for i, v in enumerate(options)}
        codes = np.fromiter(
            (position.get(str(v), -1) if v is not None else -1 for v in column),
            dtype=np.int64,
            count=len(column),
        )
        given = codes >= 0
        result = aggregation.dawid_skene(
            item_index[given],
            annotator_index[given],
            codes[given],
            n_items=len(item_ids),
            n_annotators=int(annotator_index.max()) + 1,
            n_values=len(options),
        )
        weighted[single.name] = aggregation.weighted_gold(result, values=options)
    key = _disagreement_field(version.schema)
    updated = 0
    for start in range(0, len(item_ids), WEIGHTED_BATCH):
        batch = {
            int(pk): start + i
            for i, pk in enumerate(item_ids[start : start + WEIGHTED_BATCH])
        }
        updated += _weighted_store(batch=batch, weighted=weighted, key=key, now=now)
    tables_analyze(written={Gold: updated})
    return updated


WEIGHTED_BATCH = 2000


@transaction.atomic
def _weighted_store(
    *,
    batch: dict[int, int],
    weighted: dict[str, list[Any]],
    key: Field | None,
    now: datetime,
) -> int:
    """Write one batch of weighted gold (item id -> its row in `weighted`).

    The items are locked first, in id order, as item_rescore and
    decision_record lock theirs, and their gold is read after: a decision
    committed while the weights were computed is seen and stays, and one
    arriving now waits for this batch. A batch at a time, not the whole
    project in one transaction, so claims and submits never wait long.
    """
    locked = list(
        Item.objects.select_for_update(no_key=True)
        .filter(pk__in=batch)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    changed: list[Gold] = []
    for gold in Gold.objects.filter(item_id__in=locked):
        i = batch[gold.item_id]
        for name, golds in weighted.items():
            if gold.values.get(name, {}).get("method") == "adjudicated":
                continue
            g = golds[i]
            gold.values[name] = {
                "value": g.value,
                "method": g.method,
                "confidence": g.confidence,
            }
        if key is not None and key.name in gold.values:
            gold.key_resolved = gold.values[key.name].get("value") is not None
        gold.updated_at = now
        changed.append(gold)
    Gold.objects.bulk_update(
        changed, ["values", "key_resolved", "updated_at"], batch_size=1000
    )
    return len(changed)


@transaction.atomic
def decision_record(
    *,
    item: Item,
    reviewer: User,
    values: Mapping[str, object],
    reason: str,
    now: datetime,
) -> Decision:
    """A reviewer's gold labels for an item, with the reason; the gold follows.

    Versioned: each call adds a decision with the next number, recording the
    gold values it replaced. Releases the item's review claim (anyone's: the
    item has left the review queue). Raises ValidationError with per-field messages
    (nothing saved) if the values do not fit the label set or the reason is
    empty; code `archived` in an archived project.
    """
    item.project.refuse_if_archived("no decision can be recorded")
    version = item.project.label_set_version
    clean = version.validate(values)
    if not reason.strip():
        raise ValidationError(
            {"reason": "Say why: the reason is kept with the decision."}
        )
    # The same lock as item_rescore: a label arriving now waits, then
    # recomputes the gold with this decision in it.
    Item.objects.select_for_update(no_key=True).filter(pk=item.pk).exists()
    last = Decision.objects.filter(item_id=item.pk).order_by("-number").first()
    before = (
        Gold.objects.filter(item_id=item.pk).values_list("values", flat=True).first()
    )
    decision = Decision.objects.create(
        item_id=item.pk,
        number=last.number + 1 if last else 1,
        reviewer=reviewer,
        label_set_version=version,
        values=clean,
        before=before or {},
        reason=reason.strip()[:5000],
        created_at=now,
    )
    # The gold holds each field as {"value", "method", ...}: its value is
    # what the decision replaces.
    gold_before, gold_after = changed(
        {
            k: v.get("value") if isinstance(v, dict) else v
            for k, v in decision.before.items()
        },
        clean,
    )
    audit_record(
        project_id=item.project_id,
        actor=reviewer,
        action=AuditAction.DECISION_RECORD,
        obj=decision,
        object_repr=f"item {item.pk}, decision {decision.number}",
        before={"values": gold_before},
        after={"values": gold_after, "reason": decision.reason},
        now=now,
    )
    labels = list(
        Annotation.objects.filter(
            item_id=item.pk, label_set_version_id=version.pk, is_human=True
        ).values_list("values", flat=True)
    )
    gold_store(item=item, labels=labels, now=now)
    ReviewClaim.objects.filter(item_id=item.pk).delete()
    return decision


def _disagreement_field(schema: Schema) -> Field | None:
    """The field disagreement is scored on: the key field, or the first single
    field. A multi key field is passed over: its value is a set of options,
    not one of them, so counts over its options would not show agreement."""
    key = next((f for f in schema.fields if f.key), None)
    if key is not None and key.kind in ("single", "rating"):
        return key
    return next((f for f in schema.fields if f.kind == "single"), None)
