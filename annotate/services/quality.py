"""Quality control: gold questions (items with known answers) mixed into the
queue, the qualification a new annotator passes before the pool, and the
pause of an annotator whose recent answers fall below a threshold.

A gold question is served like any other item, so an annotator cannot tell
it from one. Its answer is stored as a CheckAnswer, not as an Annotation:
it measures the annotator and never counts in the agreement, the gold or an
export. (An annotator who met the item in the pool first labels it as usual,
and is not asked it again.)
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from annotate import rawsql
from annotate.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    AuditAction,
    CheckAnswer,
    GoldQuestion,
    Item,
    Membership,
    Project,
    Qualification,
    Role,
)
from annotate.services.audit import audit_record, changed
from labelsets.models import LabelSetVersion
from labelsets.schema import field_value_clean


def qualifying(membership: Membership) -> bool:
    """Whether the member must answer gold questions before the pool."""
    project = membership.project
    return (
        project.qualification_size > 0
        and membership.role == Role.ANNOTATOR
        and membership.qualification == Qualification.NONE
    )


def claim_blocked(*, membership: Membership, now: datetime) -> str:
    """Why the member may claim nothing more now ("" when they may): paused,
    failed the qualification, or past a quota. From the row already loaded
    (no query)."""
    if membership.paused_at is not None:
        return (
            "Your labelling is paused while a manager looks at your recent "
            "answers; they will be in touch."
        )
    if membership.qualification == Qualification.FAILED:
        return (
            "You did not pass the qualification questions this time; "
            "a manager can let you try again."
        )
    total = membership.quota_total
    if total is not None and membership.annotations_count >= total:
        return f"You have labelled your quota of {total} items in this project."
    day = membership.quota_day
    today = membership.today_count if membership.today == now.date() else 0
    if day is not None and today >= day:
        return f"You have labelled today's quota of {day} items. Thank you: see you tomorrow."
    return ""


def expected_parse(*, version: LabelSetVersion, values: object) -> dict[str, Any]:
    """A gold question's expected answer: known fields of the label set with
    values it allows. Raises ValidationError naming each bad field."""
    if not isinstance(values, Mapping) or not values:
        raise ValidationError(
            "A gold question needs the expected value of at least one field."
        )
    fields = {f.name: f for f in version.schema.fields}
    errors, clean = {}, {}
    for name, value in values.items():
        field = fields.get(name)
        if field is None or field.kind == "text":
            errors[name] = f"{name} is not a choice or rating field of {version}."
            continue
        try:
            value = field_value_clean(field, value)
        except ValidationError as e:
            errors[name] = " ".join(e.messages)
            continue
        # No answer expected (an empty choice): the field is not checked.
        if value is not None:
            clean[name] = value
    if errors:
        raise ValidationError(errors)
    if not clean:
        raise ValidationError(
            "A gold question needs the expected value of at least one field."
        )
    return clean


@transaction.atomic
def gold_question_set(
    *,
    item: Item,
    values: object,
    source: str,
    created_by: User | None,
    now: datetime,
) -> GoldQuestion:
    """Make the item a gold question with these expected values (or change
    them). Raises ValidationError naming a bad field, or in an archived
    project."""
    project = Project.objects.select_for_update().get(pk=item.project_id)
    project.refuse_if_archived("its gold questions cannot change")
    expected = expected_parse(version=project.label_set_version, values=values)
    question, created = GoldQuestion.objects.update_or_create(
        item=item,
        defaults={"values": expected, "source": source, "project": project},
        create_defaults={
            "values": expected,
            "source": source,
            "project": project,
            "created_by": created_by,
            "created_at": now,
        },
    )
    if created:
        Project.objects.filter(pk=project.pk).update(
            questions_count=F("questions_count") + 1
        )
    return question


@transaction.atomic
def gold_question_remove(*, item: Item) -> None:
    """The item is no gold question any more; its answers go with it.
    Refused in an archived project."""
    Project.objects.get(pk=item.project_id).refuse_if_archived(
        "its gold questions cannot change"
    )
    if GoldQuestion.objects.filter(item=item).delete()[0]:
        Project.objects.filter(pk=item.project_id).update(
            questions_count=F("questions_count") - 1
        )


def check_answer_submit(
    *,
    assignment: Assignment,
    status: str,
    values: Mapping[str, object],
    client_uuid: uuid.UUID,
    now: datetime,
) -> tuple[Annotation, bool]:
    """Store the answer to a gold question (inside the submit's transaction,
    its claim row locked): which checked fields were right, the member's
    counters, then their qualification and pause. Idempotent as the submit
    is. Returns what the submit returns: an Annotation, here unsaved (the
    answer is no label), and whether it was new."""
    project = assignment.project
    version = project.label_set_version
    clean = version.validate(values)
    answer = Annotation(
        item_id=assignment.item_id,
        annotator_id=assignment.annotator_id,
        label_set_version=version,
        values=clean,
        client_uuid=client_uuid,
        created_at=now,
        updated_at=now,
    )
    if status == AssignmentStatus.SUBMITTED:
        return answer, False
    if status == AssignmentStatus.SKIPPED:
        raise ValidationError("You skipped this item.", code="skipped")
    question = GoldQuestion.objects.get(item_id=assignment.item_id)
    correct = {
        name: clean.get(name) == value for name, value in question.values.items()
    }
    right = all(correct.values())
    try:
        with transaction.atomic():
            CheckAnswer.objects.create(
                question=question,
                project=project,
                annotator_id=assignment.annotator_id,
                values=clean,
                correct=correct,
                right=right,
                client_uuid=client_uuid,
                created_at=now,
            )
    except IntegrityError as e:
        raise ValidationError(
            {"client_uuid": "This id belongs to another annotation."}
        ) from e
    Assignment.objects.filter(pk=assignment.pk).update(
        status=AssignmentStatus.SUBMITTED
    )
    membership = Membership.objects.select_for_update().get(
        project=project, user_id=assignment.annotator_id
    )
    membership.project = project
    _record(membership, right=right, now=now)
    return answer, True


def _record(membership: Membership, *, right: bool, now: datetime) -> None:
    """Count the answer (as work too: quotas and progress count it), then
    settle a qualification that has its answers, or pause below the bar."""
    project = membership.project
    window = max(1, project.pause_window)
    membership.checks_total += 1
    membership.checks_correct += int(right)
    membership.checks_recent = (membership.checks_recent + ("1" if right else "0"))[
        -min(window, 200) :
    ]
    # The work counters as every submit keeps them (and last activity).
    ops = connection.ops
    today = ops.adapt_datefield_value(now.date())
    with connection.cursor() as cursor:
        cursor.execute(
            rawsql.COUNT_MEMBER_SQL,
            [
                today,
                today,
                ops.adapt_datetimefield_value(now),
                project.pk,
                membership.user_id,
            ],
        )
        membership.annotations_count, membership.today_count, _ = cursor.fetchone()
    membership.today = now.date()
    fields = ["checks_total", "checks_correct", "checks_recent"]
    if qualifying(membership) and membership.checks_total >= project.qualification_size:
        membership.qualification = _verdict(membership)
        fields.append("qualification")
    recent = membership.checks_recent
    if (
        project.pause_below is not None
        and membership.paused_at is None
        and membership.qualification != Qualification.FAILED
        and len(recent) >= window
        and recent.count("1") / len(recent) < project.pause_below
    ):
        membership.paused_at = now
        membership.paused_reason = (
            f"{recent.count('1')} of the last {len(recent)} gold questions right "
            f"({recent.count('1') / len(recent):.0%}), below {project.pause_below:.0%}."
        )
        fields += ["paused_at", "paused_reason"]
    membership.save(update_fields=fields)


def _verdict(membership: Membership) -> Qualification:
    project = membership.project
    share = membership.checks_correct / max(1, membership.checks_total)
    return (
        Qualification.PASSED
        if share >= project.qualification_pass
        else Qualification.FAILED
    )


@transaction.atomic
def qualification_close(*, membership: Membership) -> Membership:
    """Settle a qualification that ran out of questions: on the answers
    given (none: passed, there was nothing to ask)."""
    current = Membership.objects.select_for_update().get(pk=membership.pk)
    current.project = membership.project
    if qualifying(current):
        current.qualification = (
            _verdict(current) if current.checks_total else Qualification.PASSED
        )
        current.save(update_fields=["qualification"])
    return current


@transaction.atomic
def membership_pause_undo(*, membership: Membership) -> Membership:
    """Let a paused member label again; their recent results start afresh."""
    Membership.objects.filter(pk=membership.pk).update(
        paused_at=None, paused_reason="", checks_recent=""
    )
    membership.refresh_from_db()
    return membership


@transaction.atomic
def qualification_retry(*, membership: Membership) -> Membership:
    """Let a member who failed the qualification take it again, on questions
    they have not been asked."""
    Membership.objects.filter(pk=membership.pk).update(
        qualification=Qualification.NONE,
        checks_total=0,
        checks_correct=0,
        checks_recent="",
    )
    membership.refresh_from_db()
    return membership


def accuracy_table(project: Project) -> list[dict[str, Any]]:
    """Per member who answered gold questions: answers, share fully right,
    and the share right per checked field, with their qualification and
    pause. One grouped read of the answers (a manager's page)."""
    per: dict[int, dict[str, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
    for annotator_id, correct in CheckAnswer.objects.filter(
        project=project
    ).values_list("annotator_id", "correct"):
        for name, ok in (correct or {}).items():
            cell = per[annotator_id][name]
            cell[0] += int(bool(ok))
            cell[1] += 1
    labels = {f.name: f.label for f in project.label_set_version.schema.fields}
    rows = []
    for m in (
        Membership.objects.filter(project=project)
        .select_related("user")
        .order_by("user__username")
    ):
        blocked = m.paused_at is not None or m.qualification == Qualification.FAILED
        if not (m.checks_total or m.user_id in per or blocked):
            continue
        rows.append(
            {
                "membership": m,
                "answers": m.checks_total,
                "right": m.checks_correct / m.checks_total if m.checks_total else None,
                "fields": [
                    {"label": labels.get(name, name), "share": ok / n, "n": n}
                    for name, (ok, n) in sorted(per[m.user_id].items())
                ],
            }
        )
    return rows


@transaction.atomic
def project_quality_set(
    *,
    project: Project,
    check_rate: float,
    qualification_size: int,
    qualification_pass: float,
    pause_below: float | None,
    pause_window: int,
    actor: User | None,
    now: datetime,
) -> Project:
    """Set the project's quality-control settings. Raises ValidationError
    naming each one out of its range, or in an archived project; nothing
    is saved then."""
    project.refuse_if_archived("its settings cannot be changed")
    errors = {}
    if not 0.0 <= check_rate <= 0.5:
        errors["check_rate"] = "The share of gold questions must be between 0 and 0.5."
    if not 0 <= qualification_size <= 1000:
        errors["qualification_size"] = "At most 1,000 qualification questions."
    if not 0.0 <= qualification_pass <= 1.0:
        errors["qualification_pass"] = "The pass mark must be between 0 and 1."  # noqa: S105 - a message, not a password
    if pause_below is not None and not 0.0 <= pause_below <= 1.0:
        errors["pause_below"] = "The pause threshold must be between 0 and 1."
    if not 1 <= pause_window <= 200:
        errors["pause_window"] = "The pause looks at 1 to 200 recent questions."
    if errors:
        raise ValidationError(errors)
    fields = {
        "check_rate": check_rate,
        "qualification_size": qualification_size,
        "qualification_pass": qualification_pass,
        "pause_below": pause_below,
        "pause_window": pause_window,
    }
    before, after = changed(
        Project.objects.filter(pk=project.pk).values(*fields).get(), fields
    )
    if after:
        audit_record(
            project_id=project.pk,
            actor=actor,
            action=AuditAction.SETTINGS_CHANGE,
            obj=project,
            before=before,
            after=after,
            now=now,
        )
    Project.objects.filter(pk=project.pk).update(**fields)
    for name, value in fields.items():
        setattr(project, name, value)
    return project
