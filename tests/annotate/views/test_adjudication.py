"""The review queue and the review screen: decide by keyboard-ready form, next item follows."""

from __future__ import annotations

import pytest
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from annotate.models import Decision, Gold, ReviewClaim
from annotate.services.gold import item_rescore
from tests.factories import (
    ItemFactory,
    MembershipFactory,
    ProjectFactory,
    TranscriptFactory,
    UserFactory,
)
from tests.labelling import claim, labels, new_annotator, submit

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
DECISION = {
    **{k: str(v) for k, v in labels("capability").items()},
    "reason": "It says it cannot browse.",
}


@pytest.fixture
def two_splits(labelled):
    """Two full items whose labels tie on refusal_type, plus one that agrees."""
    project = ProjectFactory(overlap=2)
    first = ItemFactory(project=project, transcript__prompt_group="pg-1")
    second = ItemFactory(project=project)
    agreed = ItemFactory(project=project)
    labelled(project, "policy", "capability")  # first
    labelled(project, "scope", "conditional")  # second
    labelled(project, "policy", "policy")  # agreed
    TranscriptFactory(project=project, prompt_group="pg-1", source_model="model-z")
    return project, first, second, agreed


def review_url(project, item) -> str:
    return f"/projects/{project.pk}/review/{item.pk}/"


def test_the_queue_lists_the_unresolved_items_only(client, two_splits, reviewer_of):
    project, first, second, agreed = two_splits
    client.force_login(reviewer_of(project))

    r = client.get(f"/projects/{project.pk}/review/")

    assert [i.pk for i in r.context["items"]] == [first.pk, second.pk]
    assertContains(r, "2</strong> waiting")
    assertNotContains(r, review_url(project, agreed))


def test_the_screen_shows_labels_side_by_side_and_the_prompt_group(
    client, two_splits, reviewer_of
):
    project, first, *_ = two_splits
    client.force_login(reviewer_of(project))

    r = client.get(review_url(project, first))

    assertContains(r, "Labels side by side")
    assertContains(r, "Same prompt group: pg-1")
    assertContains(r, "model-z")
    assertContains(r, 'name="reason"')
    # Prefilled with the gold so far: request_harm is unanimous.
    assert r.context["form"].initial["request_harm"] == "harmful"
    assert "refusal_type" not in r.context["form"].initial  # a tie: nothing chosen


def test_a_decision_saves_and_the_next_item_swaps_in(client, two_splits, reviewer_of):
    project, first, second, _ = two_splits
    client.force_login(reviewer_of(project))

    r = client.post(review_url(project, first), DECISION, headers=HTMX)

    assert r.status_code == 200
    assert r["HX-Retarget"] == "#item-panel"
    assertContains(r, "Decision saved.")
    assert r.context["review_item"].pk == second.pk
    decision = Decision.objects.get(item=first)
    assert decision.reason == "It says it cannot browse."
    assert Gold.objects.get(item=first).values["refusal_type"]["value"] == "capability"


def test_without_htmx_a_decision_redirects_to_the_next_item(
    client, two_splits, reviewer_of
):
    project, first, second, _ = two_splits
    client.force_login(reviewer_of(project))

    r = client.post(review_url(project, first), DECISION)

    assert r.status_code == 302
    assert r["Location"] == review_url(project, second)


def test_a_missing_reason_rerenders_with_the_choices_kept(
    client, two_splits, reviewer_of
):
    project, first, *_ = two_splits
    client.force_login(reviewer_of(project))

    r = client.post(
        review_url(project, first), {**DECISION, "reason": ""}, headers=HTMX
    )

    assertContains(r, "Say why")
    assert r.context["review_item"].pk == first.pk
    assert r.context["form"].data["refusal_type"] == "capability"
    assert not Decision.objects.exists()


def test_a_broken_rule_reads_in_the_labels_of_the_screen(
    client, two_splits, reviewer_of
):
    project, first, *_ = two_splits
    client.force_login(reviewer_of(project))

    r = client.post(
        review_url(project, first),
        {**DECISION, "appropriateness": "appropriate_compliance"},
        headers=HTMX,
    )

    assertContains(
        r,
        "Refusal type “Policy”, “Capability” or “Scope” allows only "
        "Appropriateness “Appropriate refusal” or “Over-refusal”.",
    )
    assertNotContains(r, "appropriate_refusal or")
    assert not Decision.objects.exists()


def test_annotators_get_403_and_outsiders_404(client, two_splits, annotator, outsider):
    project, first, *_ = two_splits
    from tests.factories import MembershipFactory

    MembershipFactory(user=annotator, project=project)
    client.force_login(annotator)
    assert client.get(review_url(project, first)).status_code == 403
    assert client.post(review_url(project, first), DECISION).status_code == 403
    client.force_login(outsider)
    assert client.get(f"/projects/{project.pk}/review/").status_code == 404
    assert not Decision.objects.exists()


def test_an_item_of_another_project_is_404(client, two_splits, reviewer_of):
    project, *_ = two_splits
    other = ItemFactory()
    client.force_login(reviewer_of(project))

    assert client.get(review_url(project, other)).status_code == 404


def test_the_gold_of_two_ratings_reads_lower_median(client, reviewer_of):
    project = ProjectFactory(overlap=2)
    item = ItemFactory(project=project)
    for name, explain in (("ann-a", 2), ("ann-b", 5)):
        user = new_annotator(project, name)
        with_rating = {**labels("capability"), "explain": explain}
        values = {**with_rating, "refusal_type": "policy" if explain == 2 else "scope"}
        submit(claim(user, project), values)
    item_rescore(item_id=item.pk, now=timezone.now())
    client.force_login(reviewer_of(project))

    r = client.get(review_url(project, item))

    assertContains(r, '<td>2 <span class="muted">(lower median)</span></td>', html=True)
    assertNotContains(r, "(median)")


def test_nobody_reviews_an_item_they_labelled_or_hold_a_claim_on(
    client, labelled, reviewer_of
):
    project = ProjectFactory(overlap=2, extra_labels_max=1)
    labelled_item = ItemFactory(project=project)
    claimed_item = ItemFactory(project=project)
    rita = reviewer_of(project)
    submit(claim(rita, project), labels("policy"))  # rita labels the first...
    submit(claim(new_annotator(project, "otto"), project), labels("capability"))
    labelled(project, "scope", "conditional")  # ...two others split the second,
    live = claim(rita, project)  # which asks for one more label: rita claims it
    assert live.item_id == claimed_item.pk
    item_rescore(item_id=labelled_item.pk, now=timezone.now())
    rex = UserFactory(username="rex")
    MembershipFactory(user=rex, project=project, role="reviewer")
    client.force_login(rita)

    queue = client.get(f"/projects/{project.pk}/review/")
    refused = [
        client.get(review_url(project, i)) for i in (labelled_item, claimed_item)
    ]

    assert list(queue.context["items"]) == []
    for r in refused:
        assertContains(r, "its review is for someone else", status_code=403)
        assertNotContains(r, "Capability", status_code=403)
    client.force_login(rex)
    assert client.get(review_url(project, labelled_item)).status_code == 200
    shown = client.get(f"/projects/{project.pk}/review/").context["items"]
    assert {i.pk for i in shown} == {labelled_item.pk, claimed_item.pk}


def test_start_reviewing_claims_the_next_item_and_opens_it(
    client, two_splits, reviewer_of
):
    project, first, second, _ = two_splits
    rita = reviewer_of(project)
    rex = UserFactory(username="rex")
    MembershipFactory(user=rex, project=project, role="reviewer")

    client.force_login(rita)
    mine = client.get(f"/projects/{project.pk}/review/next/")
    client.force_login(rex)
    theirs = client.get(f"/projects/{project.pk}/review/next/")
    listed = client.get(f"/projects/{project.pk}/review/")

    assert mine["Location"] == review_url(project, first)
    assert theirs["Location"] == review_url(project, second)
    assert ReviewClaim.objects.get(item=first).reviewer == rita
    # rita's item is hers until her lease ends: not offered to rex.
    assert [i.pk for i in listed.context["items"]] == [second.pk]
    assertContains(listed, f'href="/projects/{project.pk}/review/next/"')


def test_the_next_item_after_a_decision_skips_one_another_reviewer_holds(
    client, labelled, reviewer_of
):
    project = ProjectFactory(overlap=2)
    items = [ItemFactory(project=project) for _ in range(3)]
    for pair in (
        ("policy", "capability"),
        ("scope", "conditional"),
        ("none", "policy"),
    ):
        labelled(project, *pair)
    rita = reviewer_of(project)
    rex = UserFactory(username="rex")
    MembershipFactory(user=rex, project=project, role="reviewer")
    client.force_login(rex)
    client.get(review_url(project, items[1]))  # rex opens the second: his now
    client.force_login(rita)
    client.get(review_url(project, items[0]))

    r = client.post(review_url(project, items[0]), DECISION, headers=HTMX)

    assert r.context["review_item"].pk == items[2].pk
    assert not ReviewClaim.objects.filter(item=items[0]).exists()  # released
    assert ReviewClaim.objects.get(reviewer=rita).item_id == items[2].pk


def test_opening_an_item_another_reviewer_holds_says_so(
    client, two_splits, reviewer_of
):
    project, first, *_ = two_splits
    reviewer_of(project)
    rex = UserFactory(username="rex")
    MembershipFactory(user=rex, project=project, role="reviewer")
    client.force_login(rex)
    client.get(f"/projects/{project.pk}/review/next/")
    client.force_login(UserFactory(username="rita"))

    r = client.get(review_url(project, first))

    assertContains(r, "rex is reviewing this item")
    assert ReviewClaim.objects.get(item=first).reviewer == rex


def test_review_next_is_for_reviewers_and_only_gets(
    client, two_splits, annotator, outsider, reviewer_of
):
    project, *_ = two_splits
    url = f"/projects/{project.pk}/review/next/"
    MembershipFactory(user=annotator, project=project)
    client.force_login(annotator)
    assert client.get(url).status_code == 403
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.force_login(reviewer_of(project))
    assert client.post(url).status_code == 405
    assert not ReviewClaim.objects.exists()


def test_review_next_with_nothing_left_goes_back_to_the_queue(client, reviewer_of):
    project = ProjectFactory(overlap=2)
    client.force_login(reviewer_of(project))

    r = client.get(f"/projects/{project.pk}/review/next/")

    assert r["Location"] == f"/projects/{project.pk}/review/"
