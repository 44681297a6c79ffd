"""Labelling is blind: metadata keys starting with "_" (expected labels, judge
scores, import hints), at any depth, reach no screen or answer an annotator
gets while labelling."""

from __future__ import annotations

import json
import uuid

import pytest
from rest_framework.test import APIClient

from annotate.models import Assignment
from tests.factories import ItemFactory
from tests.labelling import labels

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
HIDDEN = {
    "category": "medical",
    "_expected": {"refusal_type": "zq-expected-1"},
    "judge": {"name": "visible-judge", "_score": "zq-judge-2"},
    "runs": [{"_hint": "zq-list-3", "seed": "visible-seed"}],
    "_hh_variant": "zq-variant-4",
}
# The form posts strings.
VALID = {k: str(v) for k, v in labels("policy").items()}


def assert_blind(text: str) -> None:
    assert "visible-judge" in text  # the rest of the metadata is shown
    assert "visible-seed" in text
    assert "zq-" not in text
    for key in ("_expected", "_score", "_hint", "_hh_variant"):
        assert key not in text


@pytest.fixture
def items(project):
    return ItemFactory.create_batch(3, project=project, transcript__metadata=HIDDEN)


def test_the_labelling_page_and_each_fragment_after_it_hide_underscore_keys(
    client, project, annotator, items
):
    client.force_login(annotator)

    page = client.get(f"/projects/{project.pk}/label/")
    first = Assignment.objects.get(annotator=annotator, status="live")
    after_submit = client.post(
        f"/assignments/{first.pk}/submit/",
        {**VALID, "client_uuid": str(uuid.uuid4())},
        headers=HTMX,
    )
    second = Assignment.objects.get(annotator=annotator, status="live")
    after_skip = client.post(f"/assignments/{second.pk}/skip/", headers=HTMX)
    reopened = client.get(f"/projects/{project.pk}/label/?reopen=1", headers=HTMX)

    for response in (page, after_submit, after_skip, reopened):
        assert response.status_code == 200
        assert_blind(response.content.decode())


def test_the_claim_api_hides_underscore_keys(project, annotator, items):
    api = APIClient()
    api.force_authenticate(annotator)

    claim = api.post(f"/api/projects/{project.pk}/claim/")

    assert claim.status_code == 200
    assert_blind(json.dumps(claim.json()))
    assert claim.json()["transcript"]["metadata"] == {
        "category": "medical",
        "judge": {"name": "visible-judge"},
        "runs": [{"seed": "visible-seed"}],
    }
