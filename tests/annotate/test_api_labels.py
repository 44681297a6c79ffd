"""GET /api/projects/{id}/annotations/ and POST /api/annotations/{id}/correction/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from annotate.models import Annotation
from annotate.services.queue import EDIT_WINDOW
from tests.factories import ItemFactory
from tests.labelling import label, labels, new_annotator

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def two_labels(project, annotator, other_annotator):
    """Two items, each labelled by alice and bob."""
    project.overlap = 2
    project.save(update_fields=["overlap"])
    ItemFactory.create_batch(2, project=project)
    return [
        label(user, project, kind)
        for user in (annotator, other_annotator)
        for kind in ("policy", "none")
    ]


def ids(r) -> list[int]:
    return [row["id"] for row in r.json()["results"]]


def test_an_annotator_sees_only_their_own_labels(api, project, annotator, two_labels):
    api.force_authenticate(annotator)

    r = api.get(f"/api/projects/{project.pk}/annotations/")

    assert r.status_code == 200
    assert ids(r) == sorted((a.pk for a in two_labels[:2]), reverse=True)
    assert {row["annotator"] for row in r.json()["results"]} == {"alice"}


def test_an_annotator_filtering_by_another_still_gets_only_their_own(
    api, project, annotator, two_labels
):
    api.force_authenticate(annotator)

    r = api.get(f"/api/projects/{project.pk}/annotations/", {"annotator": "bob"})

    assert {row["annotator"] for row in r.json()["results"]} == {"alice"}


def test_a_reviewer_sees_everyones_and_filters_by_annotator_and_item(
    api, project, reviewer, two_labels
):
    api.force_authenticate(reviewer)
    url = f"/api/projects/{project.pk}/annotations/"

    assert len(ids(api.get(url))) == 4
    assert set(ids(api.get(url, {"annotator": "bob"}))) == {
        a.pk for a in two_labels[2:]
    }
    item = two_labels[0].item_id
    assert set(ids(api.get(url, {"item": item}))) == {
        a.pk for a in two_labels if a.item_id == item
    }
    assert set(ids(api.get(url, {"transcript": item}))) == {
        a.pk for a in two_labels if a.item_id == item
    }
    row = api.get(url, {"item": item, "annotator": "alice"}).json()["results"][0]
    assert row["values"] == two_labels[0].values
    assert row["kind"] == "human"
    assert row["label_set_version"] == 1


def test_since_and_until_bound_the_time(api, project, reviewer, two_labels):
    old = two_labels[0]
    Annotation.objects.filter(pk=old.pk).update(
        created_at=old.created_at - timedelta(days=2)
    )
    api.force_authenticate(reviewer)
    url = f"/api/projects/{project.pk}/annotations/"
    cut = (old.created_at - timedelta(days=1)).isoformat()

    assert old.pk not in ids(api.get(url, {"since": cut}))
    assert ids(api.get(url, {"until": cut})) == [old.pk]


def test_judges_labels_are_listed_only_when_asked(api, project, reviewer, two_labels):
    judged = two_labels[3]
    Annotation.objects.filter(pk=judged.pk).update(is_human=False)
    api.force_authenticate(reviewer)
    url = f"/api/projects/{project.pk}/annotations/"

    assert judged.pk not in ids(api.get(url))
    r = api.get(url, {"kind": "judge"})
    assert ids(r) == [judged.pk]
    assert r.json()["results"][0]["kind"] == "judge"


def test_a_reviewer_who_labels_an_item_sees_no_other_label_of_it(
    api, project, reviewer, two_labels
):
    ItemFactory(project=project)
    theirs = label(new_annotator(project, "carol"), project, "none")
    mine = label(reviewer, project, "policy")
    assert theirs.item_id == mine.item_id
    api.force_authenticate(reviewer)

    r = api.get(f"/api/projects/{project.pk}/annotations/", {"item": mine.item_id})

    assert ids(r) == [mine.pk]


@pytest.mark.parametrize(
    "query",
    [{"item": "²"}, {"transcript": "x"}, {"since": "yesterday"}, {"kind": "robot"}],
)
def test_bad_filters_are_a_400_naming_the_parameter(
    api, project, reviewer, two_labels, query
):
    api.force_authenticate(reviewer)

    r = api.get(f"/api/projects/{project.pk}/annotations/", query)

    assert r.status_code == 400
    assert r.json()["detail"] == "Invalid input."
    assert list(r.json()["errors"]) == list(query)


def test_the_list_is_cursor_paged(api, project, reviewer, two_labels):
    api.force_authenticate(reviewer)

    first = api.get(f"/api/projects/{project.pk}/annotations/", {"page_size": 3})
    rest = api.get(first.json()["next"])

    assert len(ids(first)) == 3
    assert ids(first) + ids(rest) == sorted((a.pk for a in two_labels), reverse=True)


def test_an_annotator_corrects_their_label(api, project, annotator, two_labels):
    mine = two_labels[0]
    api.force_authenticate(annotator)

    r = api.post(
        f"/api/annotations/{mine.pk}/correction/",
        {"values": labels("none")},
        format="json",
    )

    assert r.status_code == 200
    assert r.json()["values"]["refusal_type"] == "none"
    mine.refresh_from_db()
    assert mine.values["refusal_type"] == "none"


def test_a_correction_that_does_not_fit_the_label_set_names_the_field(
    api, project, annotator, two_labels
):
    api.force_authenticate(annotator)

    r = api.post(
        f"/api/annotations/{two_labels[0].pk}/correction/",
        {"values": {**labels("none"), "refusal_type": "nonsense"}},
        format="json",
    )

    assert r.status_code == 400
    assert "refusal_type" in r.json()["errors"]


def test_a_correction_without_values_is_a_400(api, project, annotator, two_labels):
    api.force_authenticate(annotator)

    r = api.post(
        f"/api/annotations/{two_labels[0].pk}/correction/", {"values": 3}, format="json"
    )

    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["values"]


def test_a_correction_after_the_window_is_refused(api, project, annotator, two_labels):
    mine = two_labels[0]
    Annotation.objects.filter(pk=mine.pk).update(
        created_at=mine.created_at - EDIT_WINDOW
    )
    api.force_authenticate(annotator)

    r = api.post(
        f"/api/annotations/{mine.pk}/correction/",
        {"values": labels("none")},
        format="json",
    )

    assert r.status_code == 400
    assert "no longer" in str(r.json()["errors"])


def test_nobody_corrects_someone_elses_label(api, project, manager, two_labels):
    api.force_authenticate(manager)

    r = api.post(
        f"/api/annotations/{two_labels[0].pk}/correction/",
        {"values": labels("none")},
        format="json",
    )

    assert r.status_code == 404
    assert r.json() == {"detail": "Not found.", "errors": {}}
