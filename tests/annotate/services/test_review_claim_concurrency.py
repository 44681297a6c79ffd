"""8 reviewers work one review queue at once on PostgreSQL: no two ever hold
the same item, and every item is decided exactly once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from annotate.models import Decision, Membership, ReviewClaim
from annotate.services.gold import decision_record
from annotate.services.review import review_claim_next
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    disputed_items,
)
from tests.labelling import labels

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

REVIEWERS = 8
ITEMS = 40


def test_concurrent_reviewers_never_get_the_same_item():
    project = ProjectFactory(overlap=2)
    disputed_items(project, ITEMS)
    members = [
        MembershipFactory(
            user=UserFactory(username=f"rev{i}"), project=project, role="reviewer"
        ).pk
        for i in range(REVIEWERS)
    ]
    errors: list[BaseException] = []
    # Every claim each round, all at once: rounds go in step, so each round's
    # claims are live together and must be distinct.
    rounds: list[list[int]] = []
    lock = threading.Lock()
    start = threading.Barrier(REVIEWERS)
    decided = threading.Barrier(REVIEWERS)

    def work(membership_id: int) -> None:
        try:
            membership = Membership.objects.select_related(
                "project__label_set_version", "user"
            ).get(pk=membership_id)
            for round_ in range(ITEMS // REVIEWERS):
                start.wait()
                claim = review_claim_next(membership=membership, now=timezone.now())
                assert claim is not None
                with lock:
                    while len(rounds) <= round_:
                        rounds.append([])
                    rounds[round_].append(claim.item_id)
                decided.wait()  # everyone holds their item now
                decision_record(
                    item=claim.item,
                    reviewer=membership.user,
                    values=labels("capability"),
                    reason="Checked.",
                    now=timezone.now(),
                )
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
            start.abort()
            decided.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(m,)) for m in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert [e for e in errors if not isinstance(e, threading.BrokenBarrierError)] == []
    assert errors == []
    assert len(rounds) == ITEMS // REVIEWERS
    for held in rounds:
        assert len(held) == REVIEWERS
        assert len(set(held)) == REVIEWERS  # no item held twice at once
    per_item = Counter(Decision.objects.values_list("item_id", flat=True))
    assert len(per_item) == ITEMS
    assert set(per_item.values()) == {1}
    assert not ReviewClaim.objects.exists()  # every decision released its claim
