"""Archiving a project, or raising its overlap, while annotators label it, on
PostgreSQL: no deadlock, no label after the archive, no item over-filled."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F
from django.utils import timezone

from annotate.models import (
    Annotation,
    GoldMethod,
    Item,
    Membership,
    Project,
    QueueStrategy,
)
from annotate.services.projects import ProjectSettings, project_archive, project_update
from annotate.services.queue import annotation_submit, item_claim_next
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    TranscriptFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

VALID = {
    "request_harm": "benign",
    "refusal_type": "none",
    "appropriateness": "appropriate_compliance",
}
ANNOTATORS = 8
ITEMS = 200


def labelling(project: Project) -> tuple[list[threading.Thread], list[BaseException]]:
    """Annotators claiming and submitting until the queue is empty or the
    project refuses; each step reads the project afresh, as each request does."""
    Item.objects.bulk_create(
        Item(project=project, transcript=t, slots_left=project.overlap)
        for t in TranscriptFactory.create_batch(ITEMS, project=project)
    )
    Project.objects.filter(pk=project.pk).update(items_total=ITEMS)
    members = [
        MembershipFactory(user=UserFactory(username=f"ann{i}"), project=project).pk
        for i in range(ANNOTATORS)
    ]
    errors: list[BaseException] = []

    def request(membership_id: int) -> Membership:
        return Membership.objects.select_related("project__label_set_version").get(
            pk=membership_id
        )

    def work(membership_id: int) -> None:
        try:
            while True:
                assignment = item_claim_next(
                    membership=request(membership_id), now=timezone.now()
                )
                if assignment is None:
                    return
                assignment.project = request(membership_id).project
                annotation_submit(
                    assignment=assignment,
                    values=VALID,
                    client_uuid=uuid.uuid4(),
                    seconds=1.0,
                    now=timezone.now(),
                )
        except ValidationError as e:
            if e.code != "archived":
                errors.append(e)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(m,)) for m in members]
    for t in threads:
        t.start()
    return threads, errors


def when_labels_reach(n: int, then: Callable[[], object]) -> object:
    deadline = time.monotonic() + 120
    while Annotation.objects.count() < n:
        assert time.monotonic() < deadline, "the annotators stalled"
        time.sleep(0.01)
    return then()


def test_archiving_while_annotators_label_stops_every_label_after_it():
    project = ProjectFactory(overlap=2)
    threads, errors = labelling(project)

    archived = when_labels_reach(
        40, lambda: project_archive(actor=None, project=project, now=timezone.now())
    )
    at_archive = Annotation.objects.count()
    for t in threads:
        t.join(timeout=300)

    assert errors == []
    assert isinstance(archived, Project)
    assert archived.archived_at is not None
    assert Annotation.objects.count() == at_archive
    assert not Item.objects.filter(annotations_count__gt=2).exists()


def test_raising_the_overlap_while_annotators_label_keeps_every_count_true():
    project = ProjectFactory(overlap=2)
    threads, errors = labelling(project)
    settings = ProjectSettings(
        name=project.name,
        label_set_version=project.label_set_version,
        overlap=2,
        gold_method=GoldMethod.MAJORITY,
        queue_strategy=QueueStrategy.SEQUENTIAL,
    )

    result = when_labels_reach(
        60,
        lambda: project_update(
            project=Project.objects.get(pk=project.pk),
            settings=replace(settings, overlap=3),
            confirmed=True,
            updated_by=None,
            now=timezone.now(),
        ),
    )
    for t in threads:
        t.join(timeout=300)

    assert errors == []
    assert getattr(result, "applied", False)
    project.refresh_from_db()
    assert project.overlap == 3
    # Drained to the new overlap, never past it; the kept counters agree.
    assert set(Item.objects.values_list("annotations_count", flat=True)) == {3}
    assert not Item.objects.exclude(slots_left=0).exists()
    assert project.items_complete == ITEMS
    assert project.annotations_total == Annotation.objects.count() == 3 * ITEMS
    assert not Item.objects.filter(annotations_count__gt=F("project__overlap")).exists()
