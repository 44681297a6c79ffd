"""Every API error answers the documented body {"detail", "errors"} as JSON,
never Django's HTML page and never a 500 for input: too large, too deep,
malformed, too long, unmatched, out of range, a slash missing, a crash."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(reviewer):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(reviewer)
    return client


def assert_error_body(r, status: int) -> dict[str, object]:
    assert r.status_code == status, r.content[:200]
    assert r["Content-Type"] == "application/json"
    body: dict[str, object] = json.loads(r.content)
    assert set(body) == {"detail", "errors"}
    return body


def test_a_body_nested_1500_levels_deep_is_a_400(api, project):
    deep = "[" * 1500 + "]" * 1500
    nested_object = '{"a":' * 1500 + "1" + "}" * 1500

    r = api.post(
        f"/api/projects/{project.pk}/exports/", deep, content_type="application/json"
    )
    o = api.post(
        f"/api/projects/{project.pk}/exports/",
        nested_object,
        content_type="application/json",
    )

    assert "depth limit" in str(assert_error_body(r, 400)["detail"])
    assert_error_body(o, 400)


@pytest.mark.parametrize(
    "body", ["{bad", '{"a": NaN}', '{"a": 1e400}', '"\\ud800"', "\xff"]
)
def test_malformed_json_is_a_400(api, project, body):
    r = api.post(
        f"/api/projects/{project.pk}/exports/",
        body.encode("utf-8", "surrogatepass") if body == "\xff" else body,
        content_type="application/json",
    )

    assert str(assert_error_body(r, 400)["detail"]).startswith("JSON parse error")


def test_a_json_body_over_the_limit_is_a_413(api, project, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    r = api.post(
        f"/api/projects/{project.pk}/exports/",
        {"format": "x" * 2000},
        format="json",
    )

    assert "at most 1000 bytes" in str(assert_error_body(r, 413)["detail"])


def test_a_form_field_over_the_limit_is_a_413(project, manager, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(manager)

    r = api.post(
        f"/api/projects/{project.pk}/imports/",
        {
            "file": SimpleUploadedFile("t.jsonl", b'{"prompt": "Q", "response": "A"}'),
            "format": "x" * 2000,
        },
        format="multipart",
    )

    assert_error_body(r, 413)


def test_too_many_query_parameters_are_a_400(api, project, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    query = "&".join(f"k={i}" for i in range(20))

    r = api.get(f"/api/projects/{project.pk}/?{query}")

    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in str(assert_error_body(r, 400)["detail"])


def test_a_uri_over_the_limit_is_a_414(api, client, project, settings):
    settings.MAX_URI_LENGTH = 100
    long_query = "source_model=" + "m" * 100

    r = api.get(f"/api/projects/{project.pk}/agreement/?{long_query}")
    long_path = api.get("/api/" + "a/" * 60)
    page = client.get(f"/projects/{project.pk}/?{long_query}")
    fits = api.get(f"/api/projects/{project.pk}/")

    assert "at most 100 characters" in str(assert_error_body(r, 414)["detail"])
    assert_error_body(long_path, 414)
    assert page.status_code == 414
    assert page["Content-Type"].startswith("text/plain")
    assert fits.status_code == 200


def test_long_paths_and_queries_under_the_limit_are_no_500(api, project):
    long_path = api.get("/api/" + "a/" * 2000)
    long_value = api.get(
        f"/api/projects/{project.pk}/agreement/?source_model={'m' * 4000}"
    )

    assert_error_body(long_path, 404)
    # The filter is refused for its length, or not computed yet: not a 500.
    assert long_value.status_code in {400, 404}


def test_an_unmatched_route_is_the_json_404_and_a_page_the_html_one(api, client):
    r = api.get("/api/no-such-thing/")
    page = client.get("/no-such-thing/")

    assert assert_error_body(r, 404) == {"detail": "Not found.", "errors": {}}
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "path",
    [
        "/api/projects/99999999999999999999999/",
        "/api/projects/9223372036854775808/agreement/",
        "/api/assignments/99999999999999999999999/skip/",
        # Found by schemathesis: a second id in the path, looked up by its view.
        "/api/projects/1/members/128444077158449135616/quota/",
    ],
)
def test_an_id_beyond_the_database_range_is_a_404(api, path):
    if path.endswith("skip/"):
        method = api.post
    elif path.endswith("quota/"):
        method = api.put
    else:
        method = api.get

    assert_error_body(method(path, {}, format="json"), 404)


def test_a_page_with_an_id_beyond_the_range_is_a_404(client, reviewer):
    client.force_login(reviewer)

    assert client.get("/projects/99999999999999999999999/").status_code == 404


def test_a_post_without_the_trailing_slash_is_the_json_404(api, project):
    r = api.post(f"/api/projects/{project.pk}/exports", {}, format="json")
    get = api.get(f"/api/projects/{project.pk}")

    assert_error_body(r, 404)
    assert (get.status_code, get["Location"]) == (301, f"/api/projects/{project.pk}/")


def test_in_debug_a_post_without_the_slash_is_a_404_not_a_runtime_error(
    project, reviewer, settings
):
    # Django's APPEND_SLASH raises RuntimeError for a POST in DEBUG (its 404
    # is then the technical page, not the handler's).
    settings.DEBUG = True
    api = APIClient()  # raises what the view raises
    api.force_authenticate(reviewer)

    assert api.post(f"/api/projects/{project.pk}/exports", {}).status_code == 404


@pytest.mark.urls("tests.annotate.crash_urls")
def test_a_crash_is_the_json_500_under_api_and_the_html_page_elsewhere():
    client = Client(raise_request_exception=False)

    r = client.get("/api/crash/")
    page = client.get("/crash/")

    assert assert_error_body(r, 500) == {"detail": "Server error.", "errors": {}}
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")


def test_nested_errors_are_flat_key_paths_as_documented(project, manager):
    """A list's item and a nested serializer's errors come as {path: [messages]}
    (schemathesis found {"to_annotators": {"0": [...]}}, against the schema)."""
    api = APIClient()
    api.force_authenticate(manager)

    r = api.post(
        f"/api/projects/{project.pk}/allocations/move/",
        {"from_annotator": "ann", "to_annotators": ["ok", "x" * 151]},
        format="json",
    )

    body = assert_error_body(r, 400)
    assert list(body["errors"]) == ["to_annotators[1]"]  # type: ignore[call-overload]
    assert all(isinstance(m, str) for m in body["errors"]["to_annotators[1]"])  # type: ignore[index]
