"""The queue's model through the API: current, history, retrain."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotate.models import Job, JobKind, QueueModel
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def model(project, version: int, **fields) -> QueueModel:
    return QueueModel.objects.create(
        project=project,
        version=version,
        created_at=timezone.now(),
        strategy="hybrid",
        artefact=b"secret bytes",
        **fields,
    )


def test_the_current_model_with_its_figures(api, project, reviewer):
    model(project, 1, heuristic=True)
    model(
        project,
        2,
        labels_used=40,
        macro_f1=0.71,
        items_scored=120,
        fields={"refusal_type": {"classes": ["none", "policy"], "n_train": 40}},
    )
    api.force_authenticate(reviewer)

    r = api.get(f"/api/projects/{project.pk}/queue-model/")

    assert r.status_code == 200
    body = r.json()
    assert (body["version"], body["macro_f1"], body["items_scored"]) == (2, 0.71, 120)
    assert body["labels_used"] == 40
    assert body["target_fields"]["refusal_type"]["n_train"] == 40
    assert "trained_at" in body
    assert "artefact" not in body


def test_no_model_yet_is_a_404_saying_how_to_train_one(api, project, reviewer):
    api.force_authenticate(reviewer)

    r = api.get(f"/api/projects/{project.pk}/queue-model/")

    assert r.status_code == 404
    assert f"/api/projects/{project.pk}/queue-model/retrain/" in r.json()["detail"]


def test_the_history_is_paged_newest_first(api, project, reviewer):
    for version in (1, 2, 3):
        model(project, version)
    api.force_authenticate(reviewer)

    first = api.get(
        f"/api/projects/{project.pk}/queue-model/history/", {"page_size": 2}
    ).json()
    rest = api.get(first["next"]).json()

    assert [m["version"] for m in first["results"] + rest["results"]] == [3, 2, 1]


def test_a_page_size_that_is_no_number_is_ignored_not_a_500(api, project, reviewer):
    model(project, 1)
    api.force_authenticate(reviewer)

    r = api.get(f"/api/projects/{project.pk}/queue-model/history/", {"page_size": "²"})

    assert r.status_code == 200


def test_an_annotator_sees_no_model(api, project, annotator):
    model(project, 1)
    api.force_authenticate(annotator)

    assert api.get(f"/api/projects/{project.pk}/queue-model/").status_code == 403


def test_a_retrain_answers_202_with_the_job_and_its_location(
    api, project, manager, django_capture_on_commit_callbacks
):
    ItemFactory.create_batch(2, project=project)
    api.force_authenticate(manager)

    with django_capture_on_commit_callbacks(execute=True):
        r = api.post(f"/api/projects/{project.pk}/queue-model/retrain/")

    assert r.status_code == 202
    job = Job.objects.get()
    assert r["Location"] == f"/api/jobs/{job.pk}/"
    assert (r.json()["id"], r.json()["kind"]) == (job.pk, JobKind.RETRAIN)


def test_a_second_retrain_joins_the_one_queued(api, project, manager):
    api.force_authenticate(manager)
    url = f"/api/projects/{project.pk}/queue-model/retrain/"

    first, second = api.post(url), api.post(url)

    assert first.json()["id"] == second.json()["id"]
    assert Job.objects.count() == 1


def test_a_reviewer_may_not_retrain(api, project, reviewer):
    api.force_authenticate(reviewer)

    r = api.post(f"/api/projects/{project.pk}/queue-model/retrain/")

    assert r.status_code == 403
    assert not Job.objects.exists()
