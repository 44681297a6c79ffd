"""Reviewers claim review items under a lease: nobody gets an item another
reviewer holds, a reload keeps the item, a decision or an expired lease
gives it back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotate.models import ReviewClaim
from annotate.services.gold import decision_record
from annotate.services.review import review_claim_next, review_claim_take
from tests.factories import ProjectFactory, disputed_items
from tests.labelling import claim, labels, member, new_annotator, submit

pytestmark = pytest.mark.django_db

NOW = timezone.now()
REASON = "It says it cannot browse."


@pytest.fixture
def queue(reviewer_of):
    project = ProjectFactory(overlap=2)
    items = disputed_items(project, 3)
    rita = reviewer_of(project)
    from tests.factories import MembershipFactory, UserFactory

    rex = UserFactory(username="rex")
    MembershipFactory(user=rex, project=project, role="reviewer")
    return project, items, member(rita, project), member(rex, project)


def claimed(membership, now):
    """review_claim_next's claim, which these tests expect there to be."""
    got = review_claim_next(membership=membership, now=now)
    assert got is not None
    return got


def test_the_first_claim_gets_the_most_disagreeing_item(queue):
    _, items, rita, _ = queue

    got = claimed(rita, NOW)

    assert got is not None
    assert got.item_id == items[0].pk
    assert got.expires_at == NOW + rita.project.lease
    assert ReviewClaim.objects.get().reviewer_id == rita.user_id


def test_a_second_reviewer_gets_the_next_item_not_the_claimed_one(queue):
    _, items, rita, rex = queue

    first = claimed(rita, NOW)
    second = claimed(rex, NOW)

    assert (first.item_id, second.item_id) == (items[0].pk, items[1].pk)


def test_claiming_again_returns_the_same_claim(queue):
    _, items, rita, _ = queue

    first = claimed(rita, NOW)
    again = claimed(rita, NOW + timedelta(minutes=1))

    assert again.pk == first.pk
    assert again.item_id == items[0].pk
    assert ReviewClaim.objects.count() == 1


def test_an_expired_lease_returns_the_item_to_the_queue(queue):
    _, items, rita, rex = queue
    claimed(rita, NOW)
    later = NOW + rita.project.lease + timedelta(seconds=1)

    taken = claimed(rex, later)

    assert taken.item_id == items[0].pk
    claim_row = ReviewClaim.objects.get(item=items[0])
    assert claim_row.reviewer_id == rex.user_id
    assert claim_row.expires_at == later + rex.project.lease


def test_a_decision_releases_the_claim_and_the_next_claim_moves_on(queue):
    _, items, rita, _ = queue
    got = claimed(rita, NOW)

    decision_record(
        item=items[0],
        reviewer=rita.user,
        values=labels("capability"),
        reason=REASON,
        now=NOW,
    )

    assert not ReviewClaim.objects.filter(pk=got.pk).exists()
    assert claimed(rita, NOW).item_id == items[1].pk
    assert ReviewClaim.objects.count() == 1  # one item at a time


def test_an_empty_queue_gives_none_and_releases_nothing_held(queue):
    _, items, rita, rex = queue
    for item in items:
        decision_record(
            item=item,
            reviewer=rex.user,
            values=labels("policy"),
            reason=REASON,
            now=NOW,
        )

    assert review_claim_next(membership=rita, now=NOW) is None
    assert not ReviewClaim.objects.exists()


def test_a_reviewer_never_claims_an_item_they_labelled_or_hold():
    project = ProjectFactory(overlap=1)
    rita = new_annotator(project, "rita")
    rita_member = member(rita, project)
    rita_member.role = "reviewer"
    labelled, held = disputed_items(project, 2)
    # rita labelled the first (counted as one of its labels) and holds the second.
    from annotate.models import Item

    Item.objects.filter(pk__in=[labelled.pk, held.pk]).update(slots_left=1)
    submit(claim(rita, project), labels("policy"))
    live = claim(rita, project)
    assert {live.item_id} == {held.pk}

    assert review_claim_next(membership=rita_member, now=NOW) is None


def test_opening_an_item_moves_my_claim_there(queue):
    _, items, rita, _ = queue
    claimed(rita, NOW)

    taken = review_claim_take(membership=rita, item=items[2], now=NOW)

    assert taken.item_id == items[2].pk
    assert list(ReviewClaim.objects.values_list("item_id", flat=True)) == [items[2].pk]


def test_opening_an_item_another_reviewer_holds_says_who(queue):
    _, items, rita, rex = queue
    claimed(rex, NOW)
    mine = review_claim_take(membership=rita, item=items[1], now=NOW)

    with pytest.raises(ValidationError) as e:
        review_claim_take(membership=rita, item=items[0], now=NOW)

    assert e.value.code == "claimed"
    assert "rex is reviewing this item" in e.value.messages[0]
    assert ReviewClaim.objects.get(reviewer_id=rita.user_id).pk == mine.pk  # kept
    later = NOW + rex.project.lease
    assert review_claim_take(membership=rita, item=items[0], now=later).item_id == (
        items[0].pk
    )
