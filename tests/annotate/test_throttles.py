"""Token-authenticated writes are throttled per token (API_WRITE_RATE), in
the local memory cache and in production's Redis."""

from __future__ import annotations

import logging
import time

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from annotate.models import ApiToken
from annotate.services.tokens import api_token_create
from tests.conftest import REDIS_URL, _redis_answers, skip_or_fail
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db

# Its own database of the test Redis: the Celery tests flush theirs.
CACHE_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/12"


@pytest.fixture(autouse=True, params=["locmem", "redis"])
def backend(request, settings):
    if request.param == "redis":
        if not _redis_answers(CACHE_REDIS_URL):
            skip_or_fail(f"the Redis throttle's tests need Redis at {CACHE_REDIS_URL}")
        settings.CACHES = {
            "default": {
                "BACKEND": "annotate.cache.RedisCache",
                "LOCATION": CACHE_REDIS_URL,
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
            }
        }
    settings.API_WRITE_RATE = "2/minute"
    cache.clear()
    yield request.param
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


def test_the_count_is_one_key_per_token_and_window_that_expires(
    project, annotator, backend
):
    ItemFactory.create_batch(2, project=project)
    api = token_client(annotator)
    api.post(f"/api/projects/{project.pk}/claim/")
    token = ApiToken.objects.get(user=annotator)

    key = f"throttle:token-write:{token.pk}:60:{int(time.time() // 60)}"
    assert cache.get(key) == 1
    if backend == "redis":
        client = cache._cache.get_client()  # type: ignore[attr-defined]
        assert 0 < client.ttl(cache.make_key(key)) <= 60


def test_an_unreachable_cache_lets_writes_through_and_logs_it(
    project, annotator, caplog
):
    ItemFactory.create_batch(3, project=project)
    api = token_client(annotator)
    unreachable = {
        "default": {
            "BACKEND": "annotate.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on port 9
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

    with (
        override_settings(CACHES=unreachable),
        caplog.at_level(logging.WARNING, logger="annotate.api.throttles"),
    ):
        answers = [api.post(f"/api/projects/{project.pk}/claim/") for _ in range(3)]

    assert {r.status_code for r in answers} == {200}
    assert "throttle not applied" in caplog.text
