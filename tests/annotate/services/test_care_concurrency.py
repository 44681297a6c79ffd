"""Two submits of one annotator at once, on PostgreSQL, both of items with a
content warning: the cap counts both (neither overwrites the other's time)."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from annotate.models import Assignment, Item, Membership
from annotate.services.care import flagged_pause_until, project_care_set
from annotate.services.queue import annotation_submit, item_claim_next
from tests.factories import (
    ItemFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
)
from tests.labelling import labels

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def membership_of(pk: int) -> Membership:
    return Membership.objects.select_related("project__label_set_version").get(pk=pk)


def test_two_submits_at_once_both_count_against_the_cap():
    project = ProjectFactory(overlap=1, lease=timedelta(minutes=30))
    project_care_set(
        now=timezone.now(),
        actor=None,
        project=project,
        flagged_cap=2,
        flagged_window=timedelta(hours=4),
    )
    for _ in range(3):
        ItemFactory(project=project)
    Item.objects.update(distressing=True)
    member = MembershipFactory(user=UserFactory(username="tabs"), project=project)
    now = timezone.now()
    # A claim left to expire in one tab, a new one in another: two claims,
    # both still submittable (the expired one retakes its free slot).
    first = item_claim_next(membership=membership_of(member.pk), now=now)
    assert first is not None
    Item.objects.exclude(pk=first.item_id).update(priority=1.0)
    later = now + project.lease + timedelta(minutes=1)
    second = item_claim_next(membership=membership_of(member.pk), now=later)
    assert second is not None
    assert first.item_id != second.item_id
    assert Assignment.objects.get(pk=first.pk).status == "expired"
    errors: list[BaseException] = []
    start = threading.Barrier(2)
    # Each tab's membership was loaded before either submit.
    tabs = [(first, membership_of(member.pk)), (second, membership_of(member.pk))]

    def tab(assignment: Assignment, membership: Membership) -> None:
        try:
            start.wait()
            annotation_submit(
                assignment=assignment,
                values=labels("policy"),
                client_uuid=uuid.uuid4(),
                seconds=1.0,
                now=later,
                membership=membership,
            )
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=tab, args=pair) for pair in tabs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    fresh = membership_of(member.pk)
    assert len(fresh.flagged_recent) == 2
    assert flagged_pause_until(membership=fresh, now=later) is not None
    assert item_claim_next(membership=fresh, now=later) is None  # only flagged left
