"""Judges: labels from a classifier or an LLM, kept apart from people's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from annotate import importers
from annotate.inputs import whole_number
from annotate.models import (
    Annotation,
    Membership,
    Project,
    Transcript,
)
from annotate.services.imports import MAX_REPORTED_ERRORS, ImportRejected
from annotate.services.planner import tables_analyze

JUDGE_PREFIX = "judge-"


@dataclass
class JudgementSummary:
    judge: str
    stored: int
    replaced: int


@transaction.atomic
def judgements_import(
    *, project: Project, stream: BinaryIO, judge: str, now: datetime
) -> JudgementSummary:
    """Store a judge's labels (JSONL of {"id": transcript id, "values": {...}})
    as a non-human annotator of the project, all or none.

    Rows of a gold export (with "gold" instead of "values") are read as
    their gold values, so an export's gold comes into a new project this way.

    `id` is the transcript's external id, or its number when it has none. The
    judge is a user `judge-<name>` who cannot log in and belongs to no
    project; its labels (is_human False) are never shown to people, never
    counted in agreement or gold, and compared with the gold on the agreement
    page. Importing the same judge again replaces its labels. Raises
    ImportRejected listing every bad line (unknown ids, bad JSON, values that
    do not fit the label set; the first 50), with nothing stored.
    """
    if not judge or not all(c.isalnum() or c in "-_." for c in judge):
        raise ValidationError({"judge": "Letters, digits, '-', '_' and '.' only."})
    project.refuse_if_archived("no judge's labels can be imported into it")
    username = f"{JUDGE_PREFIX}{judge}"
    existing = get_user_model().objects.filter(username=username).first()
    if existing is not None and _is_person(existing):
        # Importing would replace that person's labels with the judge's.
        raise ValidationError(
            {
                "judge": f"{username!r} is a person's account, not a judge; "
                "choose another judge name."
            },
            code="judge_name_taken",
        )
    version = project.label_set_version
    by_external = dict(
        Transcript.objects.filter(project=project)
        .exclude(external_id="")
        .values_list("external_id", "pk")
    )
    numbers = set(
        Transcript.objects.filter(project=project, external_id="").values_list(
            "pk", flat=True
        )
    )
    errors: list[str] = []
    total_errors = 0
    parsed: dict[int, dict[str, object]] = {}

    def problem(message: str) -> None:
        nonlocal total_errors
        total_errors += 1
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append(message)

    for row in importers.iter_judgements(stream):
        if isinstance(row, importers.RowError):
            problem(str(row))
            continue
        key = row.id
        pk = by_external.get(str(key))
        if pk is None and whole_number(key) in numbers:
            pk = whole_number(key)
        if pk is None:
            problem(f"line {row.line}: id {key!r}: no such transcript in this project")
            continue
        try:
            parsed[pk] = version.validate(row.values)
        except ValidationError as e:
            fields = "; ".join(f"{f}: {' '.join(m)}" for f, m in e.message_dict.items())
            problem(f"line {row.line}: values: {fields}")
    if total_errors:
        raise ImportRejected(errors, total_errors)
    if not parsed:
        raise ImportRejected(["the file has no judgements"], 1)

    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    replaced = Annotation.objects.filter(annotator=user, item__project=project).count()
    Annotation.objects.filter(annotator=user, item__project=project).delete()
    Annotation.objects.bulk_create(
        Annotation(
            item_id=pk,
            annotator=user,
            label_set_version=version,
            values=values,
            is_human=False,
            created_at=now,
            updated_at=now,
        )
        for pk, values in parsed.items()
    )
    tables_analyze(written={Annotation: replaced + len(parsed)})
    return JudgementSummary(judge=judge, stored=len(parsed), replaced=replaced)


def _is_person(user: User) -> bool:
    """Whether an account named like a judge is a person's: one that can log
    in, belongs to a project or has labelled as a human. A judge's account
    (made above) is none of these."""
    return (
        user.is_active
        or user.has_usable_password()
        or Membership.objects.filter(user=user).exists()
        or Annotation.objects.filter(annotator=user, is_human=True).exists()
    )
