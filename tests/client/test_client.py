"""The Python client (client/) against a live server: the pipeline's round
trip, its errors, and an import that needs no Django."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pandas
import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from refusal_annotate_client import (
    ApiError,
    Client,
    Job,
    JobFailed,
    MissingExtra,
    Project,
)

from annotate.services.tokens import api_token_create
from tests.factories import UserFactory, refusal_v1
from tests.labelling import labels

# The live server answers from its own thread: the data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_DIR = Path(__file__).resolve().parents[2] / "client"

RECORDS = [
    {
        "id": f"ext-{i}",
        "prompt": f"Explain how to make dangerous thing {i}.",
        "response": "I'm sorry, but I can't help with that.",
        "model": "model-a" if i % 2 else "model-b",
        "metadata": {"category": "weapons" if i < 2 else "drugs"},
    }
    for i in range(3)
]
# What each item is labelled, by external id: a refusal type the gold keeps.
TYPES = {"ext-0": "policy", "ext-1": "scope", "ext-2": "capability"}


def client_for(live_server, user: User) -> Client:
    _, key = api_token_create(user=user, name="pipeline", now=timezone.now())
    return Client(live_server.url, key)


@pytest.fixture
def manager():
    refusal_v1()  # the flush of a transactional test removed it
    return UserFactory(username="mia", is_staff=True)


def test_the_pipeline_round_trip(live_server, manager, tmp_path):
    api = client_for(live_server, manager)
    project = api.create_project("Eval run 7", "refusal-v1", overlap=2)
    assert isinstance(project, Project)
    assert (project.name, project.label_set, project.overlap) == (
        "Eval run 7",
        "refusal-v1",
        2,
    )
    assert [p.id for p in api.projects()] == [project.id]

    source = tmp_path / "run7.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    seen: list[Job] = []
    job = api.wait(api.import_file(project, source), poll=0.05, progress=seen.append)
    assert job.succeeded
    assert seen[-1].status == "succeeded"
    assert api.project(project.id).items_total == 3

    for name in ("ann1", "ann2"):
        added = api.add_member(project, name)
        assert (added["username"], added["role"]) == (name, "annotator")
        assert added["password"]
        annotator = client_for(live_server, User.objects.get(username=name))
        while (claim := annotator.claim(project)) is not None:
            external_id = claim.transcript["external_id"]
            annotation = annotator.submit(claim, labels(TYPES[external_id]))
            assert annotation["values"]["refusal_type"] == TYPES[external_id]
    assert api.project(project.id).items_complete == 3

    export = api.export_gold(project, tmp_path / "gold.jsonl", annotations=True)
    rows = [json.loads(line) for line in export.path.read_text().splitlines()]
    assert {r["id"]: r["gold"]["refusal_type"]["value"] for r in rows} == TYPES
    assert all(len(r["annotations"]) == 2 for r in rows)
    assert export.manifest_path == tmp_path / "gold.manifest.json"
    assert export.manifest["counts"]["rows"] == 3

    frame = api.export_gold_dataframe(project)
    assert isinstance(frame, pandas.DataFrame)
    assert len(frame) == 3
    assert (
        dict(
            zip(
                frame["id"],
                (g["refusal_type"]["value"] for g in frame["gold"]),
                strict=True,
            )
        )
        == TYPES
    )

    dataset = api.export_gold_dataset(project)
    assert isinstance(dataset, datasets.Dataset)
    assert dataset.num_rows == 3
    assert {row["id"]: row["gold"]["refusal_type"]["value"] for row in dataset} == TYPES

    agreement = api.agreement(project, resamples=0)
    assert {f["name"] for f in agreement["fields"]} >= {"refusal_type"}
    assert agreement["counts"]["project_annotations"] == 6
    calibration = api.calibration(project, breakdown="category")
    assert calibration["counts"]["project_annotations"] == 6


def test_a_failed_import_raises_with_the_jobs_errors(live_server, manager):
    api = client_for(live_server, manager)
    project = api.create_project("Broken", "refusal-v1")

    with pytest.raises(JobFailed) as failed:
        api.wait(
            api.import_records(project, [RECORDS[0], {"prompt": "no response"}]),
            poll=0.05,
            timeout=30,
        )

    assert failed.value.job.status == "failed"
    assert failed.value.errors
    assert "line 2" in str(failed.value).lower()
    assert api.project(project.id).items_total == 0  # all or nothing


def test_an_api_error_carries_status_detail_and_errors(live_server, manager):
    api = client_for(live_server, manager)

    with pytest.raises(ApiError) as invalid:
        api.create_project("", "refusal-v1")
    with pytest.raises(ApiError) as missing:
        api.project(999_999)

    assert invalid.value.status == 400
    assert invalid.value.detail == "Invalid input."
    assert "name" in invalid.value.errors
    assert missing.value.status == 404
    assert missing.value.errors == {}


def test_pages_follow_next_to_the_last_row(live_server, manager):
    api = client_for(live_server, manager)
    created = [api.create_project(f"Run {i}", "refusal-v1").id for i in range(3)]

    rows = list(api.pages("/api/projects/", {"page_size": 1}))

    assert [row["id"] for row in rows] == created
    assert [p.id for p in api.projects()] == created


def test_a_bad_token_is_a_401_api_error(live_server, manager):
    with pytest.raises(ApiError) as refused:
        list(Client(live_server.url, "not-a-token").projects())

    assert refused.value.status == 401
    assert refused.value.detail == "Invalid token."


def test_the_package_imports_without_django(tmp_path):
    code = (
        "import sys, refusal_annotate_client as c; c.Client; "
        "assert 'django' not in sys.modules, 'django imported'; "
        "assert 'pandas' not in sys.modules and 'datasets' not in sys.modules"
    )
    # A clean environment: no settings module, only the client on the path.
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(CLIENT_DIR)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("module", "method"),
    [("pandas", "export_gold_dataframe"), ("datasets", "export_gold_dataset")],
)
def test_a_reader_not_installed_is_a_clear_error(monkeypatch, module, method):
    # None in sys.modules makes `import module` fail as if it were not installed.
    monkeypatch.setitem(sys.modules, module, None)
    api = Client("http://127.0.0.1:9", "unused")  # refused before any request

    with pytest.raises(MissingExtra, match=f"pip install {module}"):
        getattr(api, method)(1)
