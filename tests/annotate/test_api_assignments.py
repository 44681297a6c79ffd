"""Batches, moves and quotas through the API (managers)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotate.models import Allocation, AllocationState, Batch, Membership
from tests.factories import ItemFactory, SavedSearchFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(manager):
    client = APIClient()
    client.force_authenticate(manager)
    return client


def batches(project) -> str:
    return f"/api/projects/{project.pk}/batches/"


def test_a_manager_assigns_a_batch_by_filter(api, project, annotator):
    ItemFactory.create_batch(3, project=project, transcript__source_model="m1")
    ItemFactory(project=project, transcript__source_model="m2")

    r = api.post(
        batches(project),
        {"source_model": "m1", "annotators": ["alice"], "name": "first"},
        format="json",
    )

    assert r.status_code == 201
    body = r.json()
    assert (body["name"], body["mode"], body["items_count"]) == ("first", "each", 3)
    assert body["per_annotator"] == {"alice": 3}
    assert body["created_by"] == "mona"
    assert body["selection"]["source_model"] == "m1"
    assert Allocation.objects.filter(annotator=annotator).count() == 3


def test_a_batch_by_saved_search(api, project, annotator):
    wanted = ItemFactory(project=project, transcript__dataset="xstest")
    ItemFactory(project=project)
    search = SavedSearchFactory(project=project, name="xs", dataset="xstest")

    r = api.post(
        batches(project),
        {"saved_search": search.pk, "annotators": ["alice"], "mode": "split"},
        format="json",
    )

    assert r.status_code == 201
    assert [a.item_id for a in Allocation.objects.all()] == [wanted.pk]


def test_another_projects_saved_search_is_a_400_naming_it(api, project, annotator):
    ItemFactory(project=project)
    search = SavedSearchFactory(name="not ours")

    r = api.post(
        batches(project),
        {"saved_search": search.pk, "annotators": ["alice"]},
        format="json",
    )

    assert r.status_code == 400
    assert "saved_search" in r.json()["errors"]
    assert not Batch.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"annotators": []}, "annotators"),
        ({"annotators": ["alice"], "limit": "²"}, "limit"),
        ({"annotators": ["alice"], "limit": 0}, "limit"),
        ({"annotators": ["alice"], "saved_search": "²"}, "saved_search"),
        ({"annotators": ["alice"], "mode": "all"}, "mode"),
        ({"annotators": ["nobody"]}, "annotators"),
    ],
)
def test_a_bad_batch_is_a_400_naming_the_field(api, project, annotator, body, field):
    ItemFactory(project=project)

    r = api.post(batches(project), body, format="json")

    assert r.status_code == 400
    assert r.json()["detail"] == "Invalid input."
    assert field in r.json()["errors"]
    assert not Batch.objects.exists()


def test_batches_list_newest_first_and_a_batchs_progress(api, project, annotator):
    ItemFactory.create_batch(2, project=project)
    first = api.post(
        batches(project), {"annotators": ["alice"], "limit": 1}, format="json"
    ).json()
    second = api.post(batches(project), {"annotators": ["alice"]}, format="json").json()

    listed = api.get(batches(project)).json()["results"]
    detail = api.get(f"{batches(project)}{first['id']}/")

    assert [b["id"] for b in listed] == [second["id"], first["id"]]
    assert detail.status_code == 200
    assert detail.json()["progress"] == [
        {
            "annotator": "alice",
            "pending": 1,
            "started": 0,
            "labelled": 0,
            "skipped": 0,
            "moved": 0,
            "total": 1,
        }
    ]


def test_another_projects_batch_is_a_404(api, project):
    other = Batch.objects.create(
        project=ItemFactory().project, name="x", created_at="2026-01-01T00:00Z"
    )

    assert api.get(f"{batches(project)}{other.pk}/").status_code == 404


def test_a_move_shares_out_unstarted_work(api, project, annotator, other_annotator):
    ItemFactory.create_batch(2, project=project)
    api.post(batches(project), {"annotators": ["alice"]}, format="json")

    r = api.post(
        f"/api/projects/{project.pk}/allocations/move/",
        {"from_annotator": "alice", "to_annotators": ["bob"]},
        format="json",
    )

    assert r.status_code == 200
    assert r.json() == {"bob": 2, "kept": 0}
    assert (
        Allocation.objects.filter(
            annotator=other_annotator, state=AllocationState.PENDING
        ).count()
        == 2
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from_annotator": "nobody", "to_annotators": ["bob"]}, "from_annotator"),
        ({"from_annotator": "alice", "to_annotators": []}, "to_annotators"),
        ({"from_annotator": "alice"}, "to_annotators"),
    ],
)
def test_a_bad_move_is_a_400_naming_the_field(
    api, project, annotator, other_annotator, body, field
):
    r = api.post(f"/api/projects/{project.pk}/allocations/move/", body, format="json")

    assert r.status_code == 400
    assert field in r.json()["errors"]


def test_a_quota_is_set_and_cleared(api, project, annotator):
    url = f"/api/projects/{project.pk}/members/{annotator.pk}/quota/"

    r = api.put(url, {"quota_day": 5, "quota_total": None}, format="json")

    assert r.status_code == 200
    assert r.json() == {"quota_day": 5, "quota_total": None}
    assert Membership.objects.get(user=annotator).quota_day == 5


def test_a_quota_below_what_was_labelled_names_the_field(api, project, annotator):
    Membership.objects.filter(user=annotator).update(annotations_count=7)

    r = api.put(
        f"/api/projects/{project.pk}/members/{annotator.pk}/quota/",
        {"quota_day": None, "quota_total": 3},
        format="json",
    )

    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["quota_total"]


@pytest.mark.parametrize("value", ["²", -1, "many"])
def test_a_quota_that_is_not_a_count_is_a_400(api, project, annotator, value):
    r = api.put(
        f"/api/projects/{project.pk}/members/{annotator.pk}/quota/",
        {"quota_day": value, "quota_total": None},
        format="json",
    )

    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["quota_day"]


def test_an_annotator_may_not_assign(project, annotator):
    client = APIClient()
    client.force_authenticate(annotator)

    r = client.post(batches(project), {"annotators": ["alice"]}, format="json")

    assert r.status_code == 403
