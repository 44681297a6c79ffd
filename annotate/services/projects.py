"""Projects."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from annotate.models import (
    GoldMethod,
    Project,
    QueueStrategy,
)
from annotate.services.learning import queue_settings_data, queue_settings_parse
from labelsets.models import LabelSet, LabelSetVersion


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
    now: datetime,
) -> Project:
    """Create a project labelled under one label set version.

    Raises ValidationError (code `duplicate_name`) if the name is taken, or
    (code `invalid_overlap`) if overlap is below 1, or (code `invalid`) for
    negative extra labels or a threshold outside 0..1, and naming the setting
    for a queue setting out of its range (learning.queue_settings_parse).
    """
    if overlap < 1:
        raise ValidationError(
            {"overlap": "Overlap must be at least 1."}, code="invalid_overlap"
        )
    if extra_labels_max < 0:
        raise ValidationError(
            {"extra_labels_max": "Extra labels cannot be negative."}, code="invalid"
        )
    if not 0 <= disagreement_threshold <= 1:
        raise ValidationError(
            {"disagreement_threshold": "The threshold is between 0 and 1."},
            code="invalid",
        )
    settings = queue_settings_data(
        queue_settings_parse(schema=label_set_version.schema, data=queue_settings or {})
    )
    if Project.objects.filter(name=name).exists():
        raise ValidationError(
            {"name": f"A project named {name!r} already exists."}, code="duplicate_name"
        )
    return Project.objects.create(
        name=name,
        label_set_version=label_set_version,
        overlap=overlap,
        lease=lease,
        guidelines=guidelines,
        extra_labels_max=extra_labels_max,
        disagreement_threshold=disagreement_threshold,
        gold_method=gold_method,
        queue_strategy=queue_strategy,
        queue_settings=settings,
        created_at=now,
    )


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
