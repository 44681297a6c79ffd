"""/api/projects/{id}/agreement/ (POST computes, GET reads) and `manage.py agreement`."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from annotate.models import Job
from tests.annotate.views.test_agreement_page import labelled

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api():
    return APIClient()


def agreement(api, project, query: str = "resamples=20"):
    """POST to compute (eager jobs, no broker, have run by the answer), then GET."""
    url = f"/api/projects/{project.pk}/agreement/?{query}"
    started = api.post(url)
    return api.get(url) if started.status_code == 202 else started


def test_a_get_never_computes_and_says_how_to_start(api, project, reviewer):
    labelled(project)
    api.force_authenticate(reviewer)
    url = f"/api/projects/{project.pk}/agreement/?resamples=20&field=refusal_type"

    missing = api.get(url)

    assert missing.status_code == 404
    assert missing.json() == {
        "detail": "Not computed yet for these parameters; POST to start it.",
        "errors": {},
        "start": {"method": "POST", "url": url},
    }
    assert not Job.objects.exists()


def test_a_post_starts_the_job_and_the_get_reads_the_last_one(api, project, reviewer):
    labelled(project)
    api.force_authenticate(reviewer)
    url = f"/api/projects/{project.pk}/agreement/?resamples=20"

    started = api.post(url)
    first = api.get(url)
    again = api.post(url)
    last = api.get(url)
    other_filters = api.get(f"/api/projects/{project.pk}/agreement/?resamples=10")

    assert started.status_code == 202
    job = started.json()
    assert started["Location"] == f"/api/jobs/{job['id']}/"
    assert (job["kind"], job["status"]) == ("agreement", "succeeded")
    assert first.status_code == 200
    body = first.json()
    assert body["job"] == job["id"]
    assert body["resamples"] == 20
    assert body["counts"]["annotations"] == 18
    names = [f["name"] for f in body["fields"]]
    assert names[:3] == ["request_harm", "refusal_type", "appropriateness"]
    assert last.json()["job"] == again.json()["id"] != job["id"]
    assert other_filters.status_code == 404
    assert Job.objects.filter(kind="agreement").count() == 2


def test_one_field_and_filters(api, project, reviewer):
    labelled(project)
    api.force_authenticate(reviewer)

    r = agreement(api, project, "resamples=0&field=refusal_type&source_model=nobody")

    body = r.json()
    assert [f["name"] for f in body["fields"]] == ["refusal_type"]
    assert body["filters"]["source_model"] == "nobody"
    assert body["counts"]["annotations"] == 0
    assert body["fields"][0]["figures"][0]["alpha"] is None


def test_bad_parameters_are_400_with_field_messages(api, project, reviewer):
    api.force_authenticate(reviewer)

    r = agreement(api, project, "resamples=-1&since=yesterday")
    unknown = agreement(api, project, "field=nope")

    assert r.status_code == 400
    assert set(r.json()["errors"]) == {"resamples", "since"}
    assert unknown.status_code == 400
    assert "field" in unknown.json()["errors"]
    assert not Job.objects.exists()


def test_page_api_and_command_refuse_the_same_inputs_the_same_way(
    api, client, project, reviewer
):
    api.force_authenticate(reviewer)
    client.force_login(reviewer)
    query = "since=2026-12-02&until=2026-12-01"

    r = agreement(api, project, query)
    page = client.get(f"/projects/{project.pk}/agreement/?{query}")
    with pytest.raises(CommandError) as command:
        call_command(
            "agreement", project.name, "--since", "2026-12-02", "--until", "2026-12-01"
        )

    assert r.json()["errors"] == {"until": ["Must not be before the first day."]}
    assert "Must not be before the first day." in page.content.decode()
    assert str(command.value) == "--until: Must not be before the first day."
    assert not Job.objects.exists()


def test_annotators_get_403_and_outsiders_404(api, project, annotator, outsider):
    api.force_authenticate(annotator)
    assert agreement(api, project).status_code == 403
    api.force_authenticate(outsider)
    assert agreement(api, project).status_code == 404


def test_the_command_prints_a_table_or_json(project):
    labelled(project)
    table, raw = StringIO(), StringIO()

    call_command("agreement", project.name, "--resamples", "0", stdout=table)
    call_command(
        "agreement",
        str(project.pk),
        "--format",
        "json",
        "--field",
        "refusal_type",
        "--resamples",
        "10",
        stdout=raw,
    )

    assert "refusal_type" in table.getvalue()
    assert "  refusal_type = conditional" in table.getvalue()
    report = json.loads(raw.getvalue())
    assert [f["name"] for f in report["fields"]] == ["refusal_type"]
    assert report["fields"][0]["figures"][0]["ci"] is not None


def test_the_command_names_a_bad_field(project):
    with pytest.raises(CommandError, match="--field: 'nope'"):
        call_command("agreement", project.name, "--field", "nope")


def test_the_annotator_set_filter_takes_usernames_and_names_strangers(
    api, project, reviewer, outsider
):
    labelled(project)
    api.force_authenticate(reviewer)

    two = agreement(api, project, "resamples=0&annotators=ann,bea")
    stranger = agreement(api, project, f"annotators=ann,{outsider.username}")

    assert two.json()["counts"] == {
        "annotations": 12,
        "items": 6,
        "annotators": 2,
        "project_annotations": 18,
    }
    # Without cy, ann and bea agree on refusal_type throughout.
    refusal_type = next(f for f in two.json()["fields"] if f["name"] == "refusal_type")
    assert refusal_type["figures"][0]["alpha"] == 1.0
    assert stranger.status_code == 400
    assert stranger.json()["errors"] == {
        "annotators": [f"Not members of this project: {outsider.username}."]
    }


def test_the_command_filters_by_annotators(project):
    labelled(project)
    out = StringIO()

    call_command(
        "agreement",
        project.name,
        "--format",
        "json",
        "--resamples",
        "0",
        "--annotators",
        "ann, cy",
        stdout=out,
    )

    assert json.loads(out.getvalue())["counts"]["annotators"] == 2
    with pytest.raises(
        CommandError, match="--annotators: Not members of this project: zed."
    ):
        call_command("agreement", project.name, "--annotators", "zed")
