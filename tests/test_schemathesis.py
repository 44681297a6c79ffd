"""schemathesis against the app's own /api/schema/: every operation the
schema lists (new endpoints are picked up as they are documented), called
with generated input as a manager and as an annotator of a real project.
Checks: no 5xx, the status code documented, the body and content type as
documented. A bounded run: a few examples per operation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from annotate.models import Job, JobKind, JobStatus, Role
from annotate.services.tokens import api_token_create
from annotate.wsgi import application
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, items_bulk
from tests.labelling import claim, label

pytestmark = [pytest.mark.schemathesis, pytest.mark.django_db]

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class World:
    ids: dict[str, Any]  # path parameter -> a real object's id
    keys: dict[str, str]  # persona -> API key


@pytest.fixture
def world(db: None) -> World:
    """A project with items, a manager and an annotator (with a label and a
    live claim), and a finished export."""
    now = timezone.now()
    project = ProjectFactory(overlap=2)
    items_bulk(project, 4)
    users = {}
    for persona, role in (("manager", Role.MANAGER), ("annotator", Role.ANNOTATOR)):
        users[persona] = UserFactory(username=persona)
        MembershipFactory(user=users[persona], project=project, role=role)
    label(users["annotator"], project, "policy")
    assignment = claim(users["annotator"], project)
    assert assignment is not None
    job = Job.objects.create(
        project=project,
        kind=JobKind.EXPORT,
        status=JobStatus.SUCCEEDED,
        params={"fmt": "jsonl"},
        result={"rows": 0, "format": "jsonl", "by_split": {}},
        created_at=now,
        finished_at=now,
    )
    version = project.label_set_version
    return World(
        ids={
            "project_id": project.pk,
            "assignment_id": assignment.pk,
            "job_id": job.pk,
            "name": version.label_set.name,
            "number": version.number,
        },
        keys={
            p: api_token_create(user=u, name="fuzz", now=now)[1]
            for p, u in users.items()
        },
    )


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """The WSGI app's request signals would close the test's connection (and
    its transaction) after each call; Django's test client unhooks them too."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _unthrottled(request: pytest.FixtureRequest) -> None:
    """Hundreds of generated writes a minute on one token: the throttle
    (tested on its own) would answer most of them 429, and test nothing."""
    request.getfixturevalue("settings").API_WRITE_RATE = "100000/minute"


@pytest.fixture(params=["manager", "annotator"])
def persona(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_schema_says(case, world, persona):
    # Real objects in the path, so that input is fuzzed past the 404 of an
    # unknown id (which the permission matrix covers).
    for name in case.path_parameters or {}:
        if name in world.ids:
            case.path_parameters[name] = world.ids[name]
    case.call_and_validate(
        headers={"Authorization": f"Token {world.keys[persona]}"}, checks=CHECKS
    )
