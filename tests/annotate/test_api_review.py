"""POST /api/projects/{id}/review/claim/: the next item to review."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotate.models import ReviewClaim
from tests.factories import ItemFactory, disputed_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_a_reviewer_claims_the_most_disagreeing_item_with_its_labels(
    api, project, reviewer, labelled
):
    project.overlap = 2
    project.save(update_fields=["overlap"])
    item = ItemFactory(project=project)
    labelled(project, "policy", "none")
    api.force_authenticate(reviewer)

    r = api.post(f"/api/projects/{project.pk}/review/claim/")

    assert r.status_code == 200
    body = r.json()
    assert body["item"] == item.pk
    assert body["transcript"]["id"] == item.pk
    assert sorted(label["values"]["refusal_type"] for label in body["labels"]) == [
        "none",
        "policy",
    ]
    assert body["decisions"] == []
    assert ReviewClaim.objects.get().reviewer == reviewer


def test_the_same_claim_comes_back_and_another_reviewer_gets_the_next(
    api, project, reviewer, manager
):
    first, second = disputed_items(project, 2)
    api.force_authenticate(reviewer)
    url = f"/api/projects/{project.pk}/review/claim/"

    assert api.post(url).json()["item"] == first.pk
    assert api.post(url).json()["item"] == first.pk
    api.force_authenticate(manager)
    assert api.post(url).json()["item"] == second.pk


def test_an_empty_queue_is_a_204(api, project, reviewer):
    api.force_authenticate(reviewer)

    r = api.post(f"/api/projects/{project.pk}/review/claim/")

    assert r.status_code == 204
    assert r.content == b""


def test_an_annotator_may_not_claim_a_review(api, project, annotator):
    disputed_items(project, 1)
    api.force_authenticate(annotator)

    r = api.post(f"/api/projects/{project.pk}/review/claim/")

    assert r.status_code == 403
    assert set(r.json()) == {"detail", "errors"}
