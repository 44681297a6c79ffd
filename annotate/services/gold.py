"""Disagreement and gold: rescored per item after each label, weighted gold,
reviewers' decisions."""

from __future__ import annotations

from collections.abc import Mapping
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

# Disagreement: scored per item after each new or corrected label, by a task.


@transaction.atomic
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
    # agreement pulls in numpy and scikit-learn (1.6 s): loaded by the worker
    # that runs this, not by every web process at startup.
    import numpy as np

    from annotate.stats.agreement import normalised_entropy

    # The row lock makes runs for one item take turns, and holds claims (which
    # lock it too, and skip it) and submits (which bump its counter) until the
    # slot is decided, so no claim can land between the check and the grant.
    # NO KEY: rows pointing at the item (claims, annotations) can still be
    # inserted meanwhile. OF self: not the project row, which every submit of
    # the project updates.
    item = (
        Item.objects.select_for_update(no_key=True, of=("self",))
        .select_related("project__label_set_version")
        .defer("project__label_set_version__schema_data")  # schema: parsed once
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        return None
    project = item.project
    version = project.label_set_version
    field = _disagreement_field(version.schema)
    # Whole values, a handful of rows: a JSON key read in SQL comes back from
    # SQLite as bare text, which turns an option like "1" into 1.
    labels = list(
        Annotation.objects.filter(
            item_id=item.pk, label_set_version_id=version.pk, is_human=True
        ).values_list("values", flat=True)
    )
    score: float | None = None
    if field is not None:
        choices: list[object] = (
            [o.value for o in field.options]
            if field.kind == "single"
            else [lv.value for lv in field.scale]
        )
        column = {value: i for i, value in enumerate(choices)}
        # Whole values, a handful of rows: a JSON key read in SQL comes back
        # from SQLite as bare text, which turns an option like "1" into 1.
        given = [column[v] for vs in labels if (v := vs.get(field.name)) in column]
        counts = np.bincount(np.asarray(given, dtype=np.int64), minlength=len(column))
        score = normalised_entropy(counts)

    slots_left = item.slots_left
    if (
        score is not None
        and score > project.disagreement_threshold
        and slots_left == 0
        and item.annotations_count < project.overlap + project.extra_labels_max
        # A live claim's label is still to come: rescored when it arrives.
        and not Assignment.objects.filter(
            item_id=item.pk, status=AssignmentStatus.LIVE
        ).exists()
    ):
        slots_left = 1
    if (score, slots_left) != (item.disagreement, item.slots_left):
        Item.objects.filter(pk=item.pk).update(
            disagreement=score, slots_left=slots_left
        )
        item.disagreement, item.slots_left = score, slots_left
    gold_store(item=item, labels=labels, now=now)
    return item


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
    from annotate.stats import aggregation  # numpy: loaded where the work runs

    version = item.project.label_set_version
    decision = Decision.objects.filter(item_id=item.pk).order_by("-number").first()
    if decision is None and len(labels) < item.project.overlap:
        Gold.objects.filter(item_id=item.pk).delete()
        return None
    golds = aggregation.aggregate_item(
        aggregation.field_specs(version.schema),
        labels,
        decision.values if decision is not None else None,
    )
    values = {
        name: {"value": g.value, "method": g.method, "confidence": g.confidence}
        for name, g in golds.items()
    }
    if item.project.gold_method == GoldMethod.WEIGHTED:
        # The last weighted run's values stand until the next run: one new
        # label cannot re-weigh every annotator (gold_weighted_update).
        previous = Gold.objects.filter(item_id=item.pk).values_list("values", flat=True)
        for name, entry in (previous.first() or {}).items():
            if (
                entry.get("method") == "weighted"
                and golds[name].method != "adjudicated"
            ):
                values[name] = entry
    key = _disagreement_field(version.schema)
    gold, _ = Gold.objects.update_or_create(
        item_id=item.pk,
        defaults={
            "values": values,
            "key_resolved": key is None or golds[key.name].value is not None,
            "adjudicated": decision is not None,
            "updated_at": now,
        },
    )
    return gold


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
