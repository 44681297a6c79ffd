"""Token-authenticated writes are throttled per token (API_WRITE_RATE)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from annotate.services.tokens import api_token_create
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _low_rate(settings):
    settings.API_WRITE_RATE = "2/minute"
    cache.clear()
    yield
    cache.clear()


def token_client(user) -> APIClient:
    api = APIClient()
    key = api_token_create(user=user, name="pipeline", now=timezone.now())[1]
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def test_writes_past_the_rate_are_a_429_with_retry_after_and_the_error_body(
    project, annotator
):
    ItemFactory.create_batch(2, project=project)
    api = token_client(annotator)

    answers = [api.post(f"/api/projects/{project.pk}/claim/") for _ in range(3)]

    assert [r.status_code for r in answers] == [200, 200, 429]
    assert int(answers[2]["Retry-After"]) > 0
    body = answers[2].json()
    assert set(body) == {"detail", "errors"}
    assert "throttled" in body["detail"].lower()


def test_reads_are_not_counted(project, annotator):
    api = token_client(annotator)

    answers = [api.get("/api/projects/") for _ in range(4)]

    assert {r.status_code for r in answers} == {200}


def test_each_token_has_its_own_count(project, annotator, other_annotator):
    ItemFactory.create_batch(2, project=project)
    first, second = token_client(annotator), token_client(other_annotator)
    for _ in range(2):
        first.post(f"/api/projects/{project.pk}/claim/")

    r = second.post(f"/api/projects/{project.pk}/claim/")

    assert r.status_code == 200


def test_session_writes_from_pages_are_not_throttled(project, annotator):
    ItemFactory.create_batch(2, project=project)
    api = APIClient()
    api.force_login(annotator)

    answers = [api.post(f"/api/projects/{project.pk}/claim/") for _ in range(3)]

    assert {r.status_code for r in answers} == {200}
