"""Decisions: the project's list, recording one, an item's history."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotate.models import Decision, Gold
from tests.factories import ItemFactory, disputed_items
from tests.labelling import label, labels

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def decide(api, project, item, values=None, reason="Clearly a policy refusal."):
    return api.post(
        f"/api/projects/{project.pk}/items/{item.pk}/decision/",
        {"values": values or labels("policy"), "reason": reason},
        format="json",
    )


def test_a_reviewer_records_a_decision_and_the_gold_follows(api, project, reviewer):
    (item,) = disputed_items(project, 1)
    api.force_authenticate(reviewer)

    r = decide(api, project, item)

    assert r.status_code == 201
    body = r.json()
    assert (body["item"], body["number"], body["reviewer"]) == (item.pk, 1, "rita")
    assert body["reason"] == "Clearly a policy refusal."
    assert Decision.objects.get().values["refusal_type"] == "policy"
    assert Gold.objects.get(item=item).adjudicated


def test_a_second_decision_is_the_next_version(api, project, reviewer):
    (item,) = disputed_items(project, 1)
    api.force_authenticate(reviewer)
    decide(api, project, item)

    r = decide(api, project, item, labels("none"), reason="On second thought.")

    assert r.json()["number"] == 2
    assert r.json()["before"]["refusal_type"]["value"] == "policy"


def test_values_that_do_not_fit_the_label_set_name_the_field(api, project, reviewer):
    (item,) = disputed_items(project, 1)
    api.force_authenticate(reviewer)

    r = decide(api, project, item, {**labels("policy"), "refusal_type": "nonsense"})

    assert r.status_code == 400
    assert "refusal_type" in r.json()["errors"]
    assert not Decision.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"values": {}, "reason": ""}, "reason"),
        ({"reason": "why"}, "values"),
        ({"values": [1], "reason": "why"}, "values"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(api, project, reviewer, body, field):
    (item,) = disputed_items(project, 1)
    api.force_authenticate(reviewer)

    r = api.post(
        f"/api/projects/{project.pk}/items/{item.pk}/decision/", body, format="json"
    )

    assert r.status_code == 400
    assert field in r.json()["errors"]


def test_a_reviewer_may_not_decide_an_item_they_labelled(api, project, reviewer):
    ItemFactory(project=project)
    item = label(reviewer, project, "policy").item
    api.force_authenticate(reviewer)

    r = decide(api, project, item)

    assert r.status_code == 403
    assert not Decision.objects.exists()


def test_an_item_of_another_project_is_a_404(api, project, reviewer):
    other = ItemFactory()
    api.force_authenticate(reviewer)

    assert decide(api, project, other).status_code == 404


def test_an_annotator_may_not_decide(api, project, annotator):
    (item,) = disputed_items(project, 1)
    api.force_authenticate(annotator)

    assert decide(api, project, item).status_code == 403


def test_the_list_filters_by_item_reviewer_and_since(api, project, reviewer, manager):
    first, second = disputed_items(project, 2)
    api.force_authenticate(reviewer)
    decide(api, project, first)
    api.force_authenticate(manager)
    decide(api, project, second)
    url = f"/api/projects/{project.pk}/decisions/"

    everyone = api.get(url).json()["results"]
    assert [d["item"] for d in everyone] == [second.pk, first.pk]
    assert [
        d["item"] for d in api.get(url, {"reviewer": "rita"}).json()["results"]
    ] == [first.pk]
    assert [d["item"] for d in api.get(url, {"item": second.pk}).json()["results"]] == [
        second.pk
    ]
    since = everyone[0]["created_at"]
    assert second.pk in [
        d["item"] for d in api.get(url, {"since": since}).json()["results"]
    ]
    assert api.get(url, {"since": "2999-01-01T00:00:00Z"}).json()["results"] == []


@pytest.mark.parametrize("query", [{"item": "²"}, {"since": "soon"}])
def test_bad_list_filters_are_a_400(api, project, reviewer, query):
    api.force_authenticate(reviewer)

    r = api.get(f"/api/projects/{project.pk}/decisions/", query)

    assert r.status_code == 400
    assert list(r.json()["errors"]) == list(query)


def test_the_list_hides_decisions_on_items_the_caller_labels(
    api, project, reviewer, manager
):
    ItemFactory(project=project)
    item = label(reviewer, project, "policy").item
    api.force_authenticate(manager)
    decide(api, project, item)
    api.force_authenticate(reviewer)

    assert api.get(f"/api/projects/{project.pk}/decisions/").json()["results"] == []


def test_an_items_history_newest_first(api, project, reviewer):
    (item,) = disputed_items(project, 1)
    api.force_authenticate(reviewer)
    decide(api, project, item)
    decide(api, project, item, labels("none"), reason="Changed my mind.")

    r = api.get(f"/api/projects/{project.pk}/items/{item.pk}/decisions/")

    assert r.status_code == 200
    assert [d["number"] for d in r.json()["results"]] == [2, 1]
    assert r.json()["results"][0]["reason"] == "Changed my mind."
