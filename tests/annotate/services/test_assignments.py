"""Batches assigned by managers: served first, holding their slots, moved,
and the quotas that stop the queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from annotate.models import (
    Allocation,
    AllocationState,
    Batch,
    Item,
    Membership,
    Project,
)
from annotate.services.assignments import (
    allocations_move,
    batch_create,
    batch_items,
    batch_items_preview,
    batch_progress,
    membership_quota_set,
)
from annotate.services.quality import claim_blocked
from annotate.services.queue import (
    assignment_skip,
    assignments_expire,
    item_claim_next,
)
from annotate.services.searches import saved_search_delete
from tests.factories import ItemFactory, ProjectFactory, SavedSearchFactory, items_bulk
from tests.labelling import NOW, claim, labels, member, new_annotator, submit

pytestmark = pytest.mark.django_db


def assign(project: Project, names: list[str], *, mode=Batch.Mode.EACH, **selection):
    return batch_create(
        project=project,
        name="b",
        selection=selection,
        usernames=names,
        mode=mode,
        created_by=None,
        now=NOW,
    )


@pytest.fixture
def project():
    return ProjectFactory(overlap=2)


def test_assigned_items_come_first_in_priority_order_and_only_to_their_annotator(
    project,
):
    items = ItemFactory.create_batch(6, project=project)
    for n, item in enumerate(items):
        Item.objects.filter(pk=item.pk).update(priority=n)
    alice, bob = new_annotator(project, "alice"), new_annotator(project, "bob")
    # The pool's head (priority 5, 4) goes to alice, who must label them both.
    result = assign(project, ["alice"], limit=2)
    assert result.per_annotator == {"alice": 2}
    assert Item.objects.get(pk=items[5].pk).reserved == 1

    first, second = claim(alice, project), None
    submit(first, labels("policy"))
    second = claim(alice, project)
    bob_gets = claim(bob, project)

    assert [first.item_id, second.item_id] == [items[5].pk, items[4].pk]
    assert first.chosen_by == second.chosen_by == "assigned"
    # Bob still gets the head: each item has one free slot beyond alice's.
    assert bob_gets.item_id == items[5].pk
    assert bob_gets.chosen_by == "queue"
    assert member(alice, project).assigned_open == 0


def test_the_pool_never_takes_a_reserved_slot(project):
    item = ItemFactory(project=project)
    for name in ("alice", "bob", "carol"):
        new_annotator(project, name)
    result = assign(project, ["alice", "bob", "carol"])

    # Overlap 2: two of the three get it, the third is told.
    assert sum(result.per_annotator.values()) == 2
    assert result.left_out == {"carol": 1}
    assert Item.objects.get(pk=item.pk).reserved == 2
    dave = new_annotator(project, "dave")
    assert claim(dave, project) is None


def test_split_shares_the_items_out_in_turn(project):
    ItemFactory.create_batch(5, project=project)
    for name in ("alice", "bob"):
        new_annotator(project, name)

    result = assign(project, ["alice", "bob"], mode=Batch.Mode.SPLIT)

    assert result.per_annotator == {"alice": 3, "bob": 2}
    assert result.batch.items_count == 5


def test_a_selection_picks_by_model_and_metadata(project):
    ItemFactory(project=project, transcript__source_model="m1")
    wanted = ItemFactory(
        project=project,
        transcript__source_model="m2",
        transcript__metadata={"category": "weapons", "a__b": "x"},
    )
    ItemFactory(project=project, transcript__source_model="m2")
    new_annotator(project, "alice")

    result = assign(
        project,
        ["alice"],
        source_model="m2",
        metadata_key="category",
        metadata_value="weapons",
    )
    odd_key = Allocation.objects.filter(batch=result.batch).values_list(
        "item_id", flat=True
    )

    assert list(odd_key) == [wanted.pk]
    assert result.batch.selection == {
        "source_model": "m2",
        "metadata_key": "category",
        "metadata_value": "weapons",
    }


def test_non_members_and_deactivated_members_are_refused_by_name(project):
    ItemFactory(project=project)
    new_annotator(project, "alice")
    gone = new_annotator(project, "gone")
    Membership.objects.filter(user=gone).update(is_active=False)

    with pytest.raises(ValidationError) as e:
        assign(project, ["alice", "nobody", "gone"])

    message = e.value.message_dict["annotators"][0]
    assert "not members of this project: nobody" in message
    assert "deactivated: gone" in message
    assert not Batch.objects.exists()
    assert not Allocation.objects.exists()


def test_an_expired_assigned_claim_holds_its_slot_for_the_same_annotator(project):
    item = ItemFactory(project=project)
    alice = new_annotator(project, "alice")
    assign(project, ["alice"])
    claim(alice, project)

    assert assignments_expire(now=NOW + project.lease + timedelta(minutes=1)) == 1
    assert Item.objects.get(pk=item.pk).reserved == 1
    assert member(alice, project).assigned_open == 1
    again = item_claim_next(
        membership=member(alice, project), now=NOW + project.lease * 2
    )
    assert again is not None
    assert again.item_id == item.pk
    assert again.chosen_by == "assigned"


def test_a_skipped_assigned_item_goes_back_to_the_pool(project):
    item = ItemFactory(project=project)
    alice = new_annotator(project, "alice")
    new_annotator(project, "bob")
    assign(project, ["alice", "bob"])

    assignment_skip(assignment=claim(alice, project), reason="", now=NOW)

    assert Allocation.objects.get(annotator=alice).state == AllocationState.SKIPPED
    fresh = Item.objects.get(pk=item.pk)
    assert (fresh.slots_left, fresh.reserved) == (2, 1)
    carol = new_annotator(project, "carol")
    assert claim(carol, project).item_id == item.pk


def test_unstarted_work_moves_from_an_annotator_to_others(project):
    items = ItemFactory.create_batch(4, project=project)
    alice = new_annotator(project, "alice")
    bob, carol = new_annotator(project, "bob"), new_annotator(project, "carol")
    assign(project, ["alice"])
    submit(claim(alice, project), labels("policy"))  # started work stays
    Membership.objects.filter(user=alice).update(is_active=False)

    moved = allocations_move(
        actor=None,
        project=project,
        from_username="alice",
        to_usernames=["bob", "carol"],
        now=NOW,
    )

    assert moved == {"bob": 2, "carol": 1, "kept": 0}
    assert member(bob, project).assigned_open == 2
    states = Allocation.objects.filter(annotator=alice).values_list("state", flat=True)
    assert sorted(states) == ["claimed", "moved", "moved", "moved"]
    served = {claim(bob, project).item_id, claim(carol, project).item_id}
    assert served <= {i.pk for i in items}
    # Three moved, two of them claimed since: one slot is still held.
    assert (
        sum(Item.objects.filter(project=project).values_list("reserved", flat=True))
        == 1
    )


def test_moving_to_a_deactivated_member_is_refused(project):
    ItemFactory(project=project)
    new_annotator(project, "alice")
    gone = new_annotator(project, "gone")
    Membership.objects.filter(user=gone).update(is_active=False)
    assign(project, ["alice"])

    with pytest.raises(ValidationError, match="deactivated: gone"):
        allocations_move(
            actor=None,
            project=project,
            from_username="alice",
            to_usernames=["gone"],
            now=NOW,
        )


def test_the_progress_of_a_batch_per_annotator(project):
    ItemFactory.create_batch(3, project=project)
    alice = new_annotator(project, "alice")
    batch = assign(project, ["alice"]).batch
    submit(claim(alice, project), labels("policy"))
    claim(alice, project)

    (row,) = batch_progress(batch)

    assert row == {
        "annotator": "alice",
        "pending": 1,
        "started": 1,
        "labelled": 1,
        "skipped": 0,
        "moved": 0,
        "total": 3,
    }


def test_a_daily_quota_stops_the_queue_and_says_so(project):
    ItemFactory.create_batch(4, project=project)
    alice = new_annotator(project, "alice")
    membership_quota_set(
        actor=None,
        membership=member(alice, project),
        quota_day=2,
        quota_total=None,
        now=NOW,
    )
    submit(claim(alice, project), labels("policy"))
    submit(claim(alice, project), labels("policy"))

    assert claim(alice, project) is None
    assert "today's quota of 2" in claim_blocked(
        membership=member(alice, project), now=NOW
    )
    tomorrow = NOW + timedelta(days=1)
    assert claim_blocked(membership=member(alice, project), now=tomorrow) == ""


def test_a_total_quota_stops_the_queue(project):
    ItemFactory.create_batch(3, project=project)
    alice = new_annotator(project, "alice")
    membership_quota_set(
        actor=None,
        membership=member(alice, project),
        quota_day=None,
        quota_total=1,
        now=NOW,
    )
    submit(claim(alice, project), labels("policy"))

    assert claim(alice, project) is None
    assert "quota of 1 items in this project" in claim_blocked(
        membership=member(alice, project), now=NOW
    )


def test_a_quota_below_what_is_labelled_is_refused_with_the_number(project):
    ItemFactory.create_batch(3, project=project)
    alice = new_annotator(project, "alice")
    for _ in range(3):
        submit(claim(alice, project), labels("policy"))

    with pytest.raises(ValidationError) as e:
        membership_quota_set(
            actor=None,
            membership=member(alice, project),
            quota_day=2,
            quota_total=1,
            now=NOW,
        )

    assert "has labelled 3 items today" in e.value.message_dict["quota_day"][0]
    assert "at least 3" in e.value.message_dict["quota_total"][0]
    assert member(alice, project).quota_day is None


def test_overlap_cannot_drop_below_the_slots_held_for_assigned_work(project):
    from tests.annotate.services.test_projects import update

    ItemFactory(project=project)
    for name in ("alice", "bob"):
        new_annotator(project, name)
    assign(project, ["alice", "bob"])  # both slots of the item are held

    with pytest.raises(ValidationError) as e:
        update(project, confirmed=True, overlap=1)

    assert "assigned for" in e.value.message_dict["overlap"][0]


def _said(content: str) -> list[dict[str, str]]:
    return [
        {"role": "user", "content": "Help?"},
        {"role": "assistant", "content": content},
    ]


def test_a_saved_search_picks_its_open_items_with_the_other_filters(project):
    def item(content, priority, *, model="m1", **kwargs):
        it = ItemFactory(
            project=project,
            transcript__messages=_said(content),
            transcript__source_model=model,
            **kwargs,
        )
        Item.objects.filter(pk=it.pk).update(priority=priority)
        return it

    low = item("I won't explain METH synthesis.", 1)
    high = item("Meth is dangerous; no.", 5)
    item("meth again", 9, slots_left=0)  # no free slot
    item("meth, half labelled", 8, annotations_count=1)  # not unlabelled
    item("meth from another model", 7, model="m2")
    item("Nothing to see here.", 6)
    ItemFactory(transcript__messages=_said("meth elsewhere"))  # another project
    search = SavedSearchFactory(
        project=project, name="meth", source_model="", text="meth", status="unlabelled"
    )
    new_annotator(project, "alice")
    selection = {"saved_search": search.pk, "source_model": "m1"}

    chosen, used = batch_items(project=project, selection=selection)
    first = batch_items_preview(project=project, selection=selection, limit=1)
    limited, _ = batch_items(project=project, selection={**selection, "limit": 1})
    result = assign(project, ["alice"], **selection)

    assert used == search
    assert [i.pk for i in chosen] == [high.pk, low.pk]
    assert [i.pk for i in first] == [i.pk for i in limited] == [high.pk]
    assert set(
        Allocation.objects.filter(batch=result.batch).values_list("item_id", flat=True)
    ) == {high.pk, low.pk}
    assert result.batch.selection == {
        "source_model": "m1",
        "saved_search": {"id": search.pk, "name": "meth"},
    }


def test_a_batch_keeps_its_saved_searchs_name_after_the_search_is_deleted(project):
    ItemFactory(project=project)
    search = SavedSearchFactory(project=project, name="model a")
    new_annotator(project, "alice")
    result = assign(project, ["alice"], saved_search=search.pk)

    saved_search_delete(search=search)

    batch = Batch.objects.get(pk=result.batch.pk)
    assert batch.selection == {"saved_search": {"id": search.pk, "name": "model a"}}


@pytest.mark.parametrize("whose", ["another project's", "unknown"])
def test_a_saved_search_not_of_the_project_is_named_and_nothing_saved(project, whose):
    ItemFactory(project=project)
    new_annotator(project, "alice")
    search_id = SavedSearchFactory().pk if whose == "another project's" else 999_999

    with pytest.raises(ValidationError) as excinfo:
        assign(project, ["alice"], saved_search=search_id)
    with pytest.raises(ValidationError) as previewed:
        batch_items_preview(
            project=project, selection={"saved_search": search_id}, limit=20
        )

    for raised in (excinfo, previewed):
        (error,) = raised.value.error_dict["saved_search"]
        assert error.code == "unknown"
        assert f"#{search_id}" in error.message
    assert not Batch.objects.exists()
    assert not Allocation.objects.exists()
    assert Item.objects.get().reserved == 0


def test_a_saved_search_of_only_labelled_items_picks_nothing(project):
    ItemFactory(project=project, slots_left=0, annotations_count=2)
    search = SavedSearchFactory(project=project, source_model="", status="complete")
    new_annotator(project, "alice")

    with pytest.raises(ValidationError) as excinfo:
        assign(project, ["alice"], saved_search=search.pk)

    assert excinfo.value.code == "empty"
    assert not Batch.objects.exists()


@pytest.mark.postgres
def test_a_saved_text_search_past_its_time_is_a_field_error_and_saves_nothing(
    project, monkeypatch
):
    import annotate.queries

    items_bulk(project, 20_000)
    search = SavedSearchFactory(project=project, text="found nowhere at all")
    new_annotator(project, "alice")
    monkeypatch.setattr(annotate.queries, "SEARCH_TIMEOUT_MS", 1)

    with pytest.raises(ValidationError) as excinfo:
        assign(project, ["alice"], saved_search=search.pk)

    (error,) = excinfo.value.error_dict["saved_search"]
    assert error.code == "too_slow"
    assert not Batch.objects.exists()


@pytest.mark.postgres
def test_a_saved_text_search_leaves_the_transactions_timeout_as_it_was(project):
    ItemFactory(project=project, transcript__messages=_said("Meth? No."))
    search = SavedSearchFactory(project=project, text="meth")
    new_annotator(project, "alice")

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 123456")
        result = assign(project, ["alice"], saved_search=search.pk)
        cursor.execute("SHOW statement_timeout")
        after = cursor.fetchone()[0]

    assert result.batch.items_count == 1
    assert after == "123456ms"
