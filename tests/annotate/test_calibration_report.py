"""The calibration report from the database: command (CSV, JSON), API and page."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from pytest_django.asserts import assertContains
from rest_framework.test import APIClient

from annotate.models import Job
from labelsets.services import labelset_dump, labelset_load
from tests.factories import ItemFactory, ProjectFactory, refusal_v1

# transaction=True: the report's job runs (eagerly) when the request commits.
pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true"}


@pytest.fixture
def calibrated(labelled):
    """model-a refuses a benign request; model-b answers it; both refuse a harmful one."""
    project = ProjectFactory(overlap=1)
    for model in ("model-a", "model-b"):
        ItemFactory(project=project, transcript__source_model=model)
    labelled(project, "policy")  # model-a's item; labels() says request_harm harmful
    labelled(project, "none")
    return project


def test_the_command_writes_the_report_as_csv_and_json(calibrated):
    out, raw = io.StringIO(), io.StringIO()

    call_command("calibration", calibrated.name, stdout=out)
    call_command("calibration", calibrated.name, "--format", "json", stdout=raw)

    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][:3] == ["model", "category", "figure"]
    under = {r[0]: r for r in rows if r[1] == "all" and r[2] == "under_refusal"}
    # Both items are harmful requests: model-a refused (0 of 1 complied), model-b complied.
    assert (under["model-a"][6], under["model-a"][7]) == ("0", "1")
    assert (under["model-b"][6], under["model-b"][7]) == ("1", "1")
    report = json.loads(raw.getvalue())
    assert [m["model"] for m in report["models"]] == ["model-a", "model-b"]


def test_the_command_says_when_the_label_set_is_not_about_refusals():
    version, _ = labelset_load(
        now=timezone.now(),
        data={
            "name": "tox",
            "fields": [
                {
                    "name": "toxic",
                    "kind": "single",
                    "options": [{"value": "y"}, {"value": "n"}],
                }
            ],
        },
    )
    project = ProjectFactory(label_set_version=version)

    with pytest.raises(CommandError) as e:
        call_command("calibration", project.name)

    assert str(e.value) == (
        "The calibration report needs refusal-v1's labels: a one-of field "
        "request_harm; a one-of field refusal_type."
    )


def test_a_refusal_type_it_cannot_place_fails_the_job_saying_which(reviewer_of):
    data: dict[str, Any] = labelset_dump(version=refusal_v1())
    data["name"] = "refusal-plus"
    refusal_type = next(f for f in data["fields"] if f["name"] == "refusal_type")
    refusal_type["options"].append({"value": "deflect", "label": "Deflects"})
    version, _ = labelset_load(data=data, now=timezone.now())
    project = ProjectFactory(label_set_version=version)
    api = APIClient()
    api.force_authenticate(reviewer_of(project))

    started = api.post(f"/api/projects/{project.pk}/calibration/")
    after = api.get(f"/api/projects/{project.pk}/calibration/")

    assert started.status_code == 202
    job = started.json()
    assert job["status"] == "failed"
    assert "refusal_type options among" in " ".join(job["errors"])
    assert "this label set adds deflect" in " ".join(job["errors"])
    assert after.status_code == 404


def test_the_figures_break_down_by_any_metadata_key(labelled, reviewer_of):
    project = ProjectFactory(overlap=1)
    for model, suite in (("model-a", "xstest"), ("model-b", "orbench")):
        ItemFactory(
            project=project,
            transcript__source_model=model,
            transcript__metadata={"suite": suite, "category": "c", "_secret": 1},
        )
    labelled(project, "policy", "none")
    api = APIClient()
    api.force_authenticate(reviewer_of(project))
    out = io.StringIO()

    api.post(f"/api/projects/{project.pk}/calibration/?breakdown=suite")
    r = api.get(f"/api/projects/{project.pk}/calibration/?breakdown=suite")
    call_command("calibration", project.name, "--breakdown", "suite", stdout=out)

    report = r.json()
    assert report["breakdown"] == "suite"
    assert report["metadata_keys"] == ["category", "suite"]
    assert [c["category"] for m in report["models"] for c in m["by_category"]] == [
        "xstest",
        "orbench",
    ]
    assert [r[:2] for r in csv.reader(io.StringIO(out.getvalue()))][1:3] == [
        ["model-a", "all"],
        ["model-a", "all"],
    ]
    assert "model-a,xstest,under_refusal" in out.getvalue()


def test_the_api_answers_with_the_report_once_computed(calibrated, reviewer_of):
    api = APIClient()
    api.force_authenticate(reviewer_of(calibrated))

    url = f"/api/projects/{calibrated.pk}/calibration/"

    missing = api.get(url)
    started = api.post(url)
    first = api.get(url)
    again = api.get(url)

    assert missing.status_code == 404
    assert missing.json()["start"] == {"method": "POST", "url": url}
    assert started.status_code == 202
    assert started["Location"] == f"/api/jobs/{started.json()['id']}/"
    assert first.status_code == 200
    assert first.json()["job"] == again.json()["job"] == started.json()["id"]
    model_b = first.json()["models"][1]
    assert model_b["under_refusal"]["rate"] == 1.0
    assert Job.objects.filter(kind="calibration").count() == 1


def test_the_page_computes_and_draws_the_models_side_by_side(
    client, calibrated, reviewer_of
):
    client.force_login(reviewer_of(calibrated))

    before = client.get(f"/projects/{calibrated.pk}/calibration/")
    computed = client.post(f"/projects/{calibrated.pk}/calibration/", headers=HTMX)

    assertContains(before, "Not computed yet.")
    assertContains(computed, "Under-refusal")
    assertContains(computed, "<svg", count=6)
    assertContains(computed, "100.0% (1/1)")  # model-b's under-refusal, printed


def test_annotators_get_403_and_outsiders_404(client, calibrated, annotator, outsider):
    from tests.factories import MembershipFactory

    MembershipFactory(user=annotator, project=calibrated)
    client.force_login(annotator)
    assert client.get(f"/projects/{calibrated.pk}/calibration/").status_code == 403
    client.force_login(outsider)
    assert client.get(f"/projects/{calibrated.pk}/calibration/").status_code == 404
    api = APIClient()
    api.force_authenticate(outsider)
    assert api.get(f"/api/projects/{calibrated.pk}/calibration/").status_code == 404
    assert api.post(f"/api/projects/{calibrated.pk}/calibration/").status_code == 404
