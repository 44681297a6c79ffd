"""Labels and decisions made elsewhere: a file in, all of it or none.

Each stored row goes through what a submit or a decision goes through (the
label set's validation, the kept counters, the rescoring), so agreement, gold
and the review queue read imported labels as if they had been given here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from annotate import tasks
from annotate.importers import RowError
from annotate.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Decision,
    Gold,
    Item,
    Membership,
    Project,
    Role,
    Transcript,
)
from annotate.services import deferred
from annotate.services.gold import decision_record, item_rescore
from annotate.services.imports import MAX_REPORTED_ERRORS, ImportRejected
from annotate.services.judges import JUDGE_PREFIX
from annotate.services.learning import retrain_due
from annotate.services.members import _membership_create
from annotate.services.planner import tables_analyze
from annotate.services.queue import annotation_store

ANNOTATION_KEYS = {"id", "annotator", "values", "seconds", "created_at"}
DECISION_KEYS = {"id", "values", "reason", "reviewer"}


@dataclass
class LabelImportSummary:
    stored: int
    items: int
    annotators_created: list[str]

    def as_dict(self) -> dict[str, object]:
        return {
            "stored": self.stored,
            "items": self.items,
            "annotators_created": self.annotators_created,
        }


@dataclass
class DecisionImportSummary:
    stored: int

    def as_dict(self) -> dict[str, object]:
        return {"stored": self.stored}


@dataclass
class _Label:
    line: int
    item_id: int
    annotator: str
    values: dict[str, Any]
    seconds: float
    created_at: datetime


class _Errors:
    """The first MAX_REPORTED_ERRORS problems, and how many there were."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.total = 0

    def add(self, line: int, field: str, message: str) -> None:
        self.total += 1
        if len(self.shown) < MAX_REPORTED_ERRORS:
            self.shown.append(str(RowError(line, field, message)))

    def raise_any(self) -> None:
        if self.total:
            raise ImportRejected(self.shown, self.total)


def _records(stream: BinaryIO) -> Iterator[tuple[int, Any] | RowError]:
    """(line, record) of a JSON Lines file, or of a JSON array (its n-th
    entry as line n); a line that is not JSON is a RowError."""
    size = stream.seek(0, 2)
    stream.seek(0)
    if size > settings.IMPORT_MAX_BYTES:
        limit = settings.IMPORT_MAX_BYTES / 2**20
        raise ImportRejected(
            [f"The file is over the limit of {limit:.0f} MiB (IMPORT_MAX_BYTES)."], 1
        )
    head = stream.read(64).lstrip()
    stream.seek(0)
    if head.startswith(b"["):
        try:
            entries = orjson.loads(stream.read())
        except orjson.JSONDecodeError as e:
            raise ImportRejected([f"line {e.lineno}: not JSON: {e.msg}"], 1) from e
        yield from enumerate(entries, 1)
        return
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as e:
            yield RowError(number, "", f"not JSON: {e.msg}")


def _item_ids(project: Project) -> dict[str, int]:
    """The file's ids to items: a transcript's external id, or its number
    when it has none (as a judgement file's)."""
    ids = {
        str(pk): pk
        for pk in Transcript.objects.filter(
            project=project, external_id=""
        ).values_list("pk", flat=True)
    }
    ids.update(
        Transcript.objects.filter(project=project)
        .exclude(external_id="")
        .values_list("external_id", "pk")
    )
    return ids


def _values_problem(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{f}: {' '.join(m)}" for f, m in error.message_dict.items())
    return " ".join(error.messages)


def _common_fields(
    errors: _Errors, line: int, record: Any, keys: set[str], ids: dict[str, int]
) -> int | None:
    """Check a record's shape and id; its item, or None after an error."""
    if not isinstance(record, dict):
        errors.add(line, "", "not a JSON object")
        return None
    for key in sorted(set(record) - keys):
        errors.add(
            line, key, f"unknown field; the fields are {', '.join(sorted(keys))}"
        )
    if "values" not in record:
        errors.add(line, "values", "missing")
    elif not isinstance(record["values"], dict):
        errors.add(line, "values", "must be an object of label values")
    if "id" not in record:
        errors.add(line, "id", "missing")
        return None
    item_id = ids.get(str(record["id"]))
    if item_id is None:
        errors.add(line, "id", f"{record['id']!r}: no such transcript in this project")
    return item_id


def _created_at(errors: _Errors, line: int, value: Any, now: datetime) -> datetime:
    if value is None:
        return now
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        errors.add(line, "created_at", "must be an ISO 8601 date and time")
        return now
    return when if timezone.is_aware(when) else timezone.make_aware(when)


def _seconds(errors: _Errors, line: int, value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        errors.add(line, "seconds", "must be a number of seconds, 0 or more")
        return 0.0
    return float(value)


def _annotator_problem(username: str, judges: set[str]) -> str | None:
    if not username.strip():
        return "missing: the annotator's username"
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as e:
        return " ".join(e.messages)
    if len(username) > 150:
        return "at most 150 characters"
    # Judges' labels live apart (not human, never in agreement or gold): a
    # person named like one would blur which labels are whose.
    if username.startswith(JUDGE_PREFIX) or username in judges:
        return f"{username!r} is a judge's name; judges' labels are imported with import_judgements"
    return None


@transaction.atomic
def annotations_import(
    *, project: Project, stream: BinaryIO, actor: User | None, now: datetime
) -> LabelImportSummary:
    """Store people's labels given elsewhere as annotations of the project,
    all or none.

    JSON Lines (or a JSON array) of {"id": transcript id, "annotator":
    username, "values": {...}, optional "seconds" and "created_at"}. Each
    label is stored as a submit stores it: its values validated by the label
    set, the item's slot taken, the item's, the annotator's and the project's
    counters kept by the submit's own function, the item rescored
    (disagreement, an extra slot, gold). Annotators new to the project become
    annotator members (new users get an unusable password). Raises
    ImportRejected listing every bad line (the first 50) with nothing stored:
    bad JSON, unknown ids, values that do not fit, an annotator named like a
    judge, a label given twice or already there.
    """
    project.refuse_if_archived("no labels can be imported into it")
    project = Project.objects.select_related("label_set_version").get(pk=project.pk)
    version = project.label_set_version
    ids = _item_ids(project)
    judges = {
        name.removeprefix(JUDGE_PREFIX)
        for name in get_user_model()
        .objects.filter(username__startswith=JUDGE_PREFIX)
        .values_list("username", flat=True)
    }
    errors = _Errors()
    labels: list[_Label] = []
    seen: dict[tuple[str, int], int] = {}
    for row in _records(stream):
        if isinstance(row, RowError):
            errors.add(row.line or 0, row.field, row.message)
            continue
        line, record = row
        item_id = _common_fields(errors, line, record, ANNOTATION_KEYS, ids)
        if not isinstance(record, dict):
            continue
        annotator = str(record.get("annotator") or "")
        if (problem := _annotator_problem(annotator, judges)) is not None:
            errors.add(line, "annotator", problem)
            continue
        seconds = _seconds(errors, line, record.get("seconds"))
        created_at = _created_at(errors, line, record.get("created_at"), now)
        if item_id is None or not isinstance(record.get("values"), dict):
            continue
        if (first := seen.setdefault((annotator, item_id), line)) != line:
            errors.add(line, "id", f"{annotator} labels it twice (line {first})")
            continue
        try:
            clean = version.validate(record["values"])
        except ValidationError as e:
            errors.add(line, "values", _values_problem(e))
            continue
        labels.append(_Label(line, item_id, annotator, clean, seconds, created_at))
    errors.raise_any()
    if not labels:
        raise ImportRejected(["The file holds no labels."], 1)

    users, created = _annotators_ensure(
        project=project,
        usernames={label.annotator for label in labels},
        actor=actor,
        now=now,
    )
    taken = set(
        Assignment.objects.filter(
            item_id__in={label.item_id for label in labels},
            annotator_id__in=[u.pk for u in users.values()],
        ).values_list("item_id", "annotator_id")
    )
    for label in labels:
        if (label.item_id, users[label.annotator].pk) in taken:
            errors.add(
                label.line, "id", f"{label.annotator} already labelled or claimed it"
            )
    errors.raise_any()

    retrain = False
    for label in labels:
        retrain |= _label_store(
            project=project, label=label, user=users[label.annotator]
        )
    items = len({label.item_id for label in labels})
    tables_analyze(
        written={
            Assignment: len(labels),
            Annotation: len(labels),
            Item: items,
            Gold: items,
        }
    )
    if retrain:
        deferred.publish_on_commit(tasks.queue_retrain, project_id=project.pk)
    return LabelImportSummary(
        stored=len(labels),
        items=items,
        annotators_created=sorted(created),
    )


def _annotators_ensure(
    *, project: Project, usernames: set[str], actor: User | None, now: datetime
) -> tuple[dict[str, User], list[str]]:
    """The annotators by name, made users and members when new to the
    project (an existing member keeps their role); the users created."""
    user_model = get_user_model()
    users = {u.username: u for u in user_model.objects.filter(username__in=usernames)}
    created = []
    for username in sorted(usernames - set(users)):
        user = user_model(username=username)
        user.set_unusable_password()  # they never log in unless given one
        user.save()
        users[username] = user
        created.append(username)
    members = set(
        Membership.objects.filter(
            project=project, user__in=list(users.values())
        ).values_list("user_id", flat=True)
    )
    for user in users.values():
        if user.pk not in members:
            _membership_create(
                project=project, user=user, role=Role.ANNOTATOR, actor=actor, now=now
            )
    return users, created


def _label_store(*, project: Project, label: _Label, user: User) -> bool:
    """One label as annotation_submit leaves it: a submitted claim (so the
    queue never serves the item to them again), the slot taken, the counters
    kept and the item rescored. Whether it asks for a retrain."""
    when = label.created_at
    assignment = Assignment.objects.create(
        item_id=label.item_id,
        project=project,
        annotator=user,
        status=AssignmentStatus.SUBMITTED,
        claimed_at=when,
        expires_at=when,
    )
    # A claim takes a free slot; a label from elsewhere beyond the overlap
    # takes none and is kept all the same.
    Item.objects.filter(pk=label.item_id, slots_left__gt=F("reserved")).update(
        slots_left=F("slots_left") - 1
    )
    annotation = Annotation(
        item_id=label.item_id,
        annotator=user,
        label_set_version=project.label_set_version,
        values=label.values,
        seconds_spent=min(label.seconds, 24 * 3600.0),
        created_at=when,
        updated_at=when,
    )
    with connection.cursor() as cursor:
        count, project_labels = annotation_store(
            cursor,
            annotation=annotation,
            assignment=assignment,
            project=project,
            membership=None,
            now=when,
        )
    # As after a submit, but now: the next label of the file may take the
    # extra slot a disagreement opens.
    if count >= min(2, project.overlap):
        item_rescore(item_id=label.item_id, now=when)
    return retrain_due(project, project_labels)


@transaction.atomic
def decisions_import(
    *, project: Project, stream: BinaryIO, reviewer: User, now: datetime
) -> DecisionImportSummary:
    """Record reviewers' decisions given elsewhere, all or none.

    JSON Lines (or a JSON array) of {"id": transcript id, "values": {...},
    "reason": "...", optional "reviewer": username}; without a reviewer the
    line is `reviewer`'s. Each goes through decision_record, as on the
    adjudication page. A named reviewer must be an active reviewer or
    manager of the project. Raises ImportRejected listing every bad line
    (the first 50) with nothing stored.
    """
    project.refuse_if_archived("no decision can be recorded")
    ids = _item_ids(project)
    reviewers = {
        m.user.username: m.user
        for m in Membership.objects.filter(
            project=project, is_active=True
        ).select_related("user")
        if m.has_role(Role.REVIEWER)
    }
    errors = _Errors()
    seen: dict[int, int] = {}
    rows: list[tuple[int, int, User, dict[str, Any], str]] = []
    for row in _records(stream):
        if isinstance(row, RowError):
            errors.add(row.line or 0, row.field, row.message)
            continue
        line, record = row
        item_id = _common_fields(errors, line, record, DECISION_KEYS, ids)
        if not isinstance(record, dict):
            continue
        by = reviewer
        if "reviewer" in record:
            named = reviewers.get(str(record["reviewer"]))
            if named is None:
                errors.add(
                    line, "reviewer", "not a reviewer or manager of this project"
                )
                continue
            by = named
        reason = record.get("reason")
        if not isinstance(reason, str):
            errors.add(line, "reason", "missing: say why")
            continue
        if item_id is None or not isinstance(record.get("values"), dict):
            continue
        if (first := seen.setdefault(item_id, line)) != line:
            errors.add(line, "id", f"decided twice (line {first})")
            continue
        rows.append((line, item_id, by, record["values"], reason))
    if not rows and not errors.total:
        raise ImportRejected(["The file holds no decisions."], 1)
    project = Project.objects.select_related("label_set_version").get(pk=project.pk)
    items = Item.objects.in_bulk([item_id for _, item_id, *_ in rows])
    for line, item_id, by, values, reason in rows:
        item = items[item_id]
        item.project = project
        try:
            # Its own savepoint: a refused line leaves nothing, and the
            # checking goes on so every bad line is listed.
            decision_record(
                item=item, reviewer=by, values=values, reason=reason, now=now
            )
        except ValidationError as e:
            if "reason" in getattr(e, "error_dict", {}):
                errors.add(line, "reason", " ".join(e.message_dict["reason"]))
            else:
                errors.add(line, "values", _values_problem(e))
    errors.raise_any()
    tables_analyze(written={Decision: len(rows), Gold: len(rows)})
    return DecisionImportSummary(stored=len(rows))
