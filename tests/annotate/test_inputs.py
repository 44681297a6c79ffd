"""Numbers in query strings are parsed by a form field, never str.isdigit():
"²" passes isdigit() but not int(), and twenty digits overflow the database.
Either is a 400 naming the parameter, never a 500."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from django.core.exceptions import BadRequest
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from rest_framework import serializers
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from annotate.api.common import paged_response
from annotate.api.errors import bad_request, exception_handler
from annotate.inputs import whole_number
from annotate.models import Project
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

HOSTILE = ["²", "9" * 25, "-3", "1e3"]


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("12", 12),
        ("١٢", 12),
        (" 7 ", 7),
        ("²", None),
        ("9" * 25, None),
        ("-1", None),
        ("", None),
    ],
)
def test_whole_number_takes_what_int_and_the_database_can_hold(value, number):
    assert whole_number(value) == number


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/projects/{p}/label/", "reveal"),
        ("/projects/{p}/label/", "correct"),
        ("/projects/{p}/my-labels/", "before"),
    ],
)
def test_an_annotators_page_answers_400_to_a_number_int_refuses(
    client, project, annotator, path, param, value
):
    client.force_login(annotator)

    r = client.get(path.format(p=project.pk), {param: value})

    assert r.status_code == 400
    assert f"The query parameter &#x27;{param}&#x27; must be a whole number" in r.text


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/projects/{p}/transcripts/", "after"),
        ("/projects/{p}/annotators/{u}/", "before"),
    ],
)
def test_a_reviewers_page_answers_400_to_a_number_int_refuses(
    client, project, annotator, reviewer, path, param, value
):
    client.force_login(reviewer)

    r = client.get(path.format(p=project.pk, u=annotator.pk), {param: value})

    assert r.status_code == 400


@pytest.mark.parametrize("param", ["to", "from"])
def test_the_label_set_history_answers_400_to_a_version_int_refuses(
    client, project, manager, param
):
    client.force_login(manager)
    name = project.label_set_version.label_set.name

    r = client.get(f"/label-sets/{name}/versions/", {param: "²"})

    assert r.status_code == 400


def test_the_400_page_says_what_was_wrong(client, project, annotator, settings):
    settings.DEBUG = False
    client.force_login(annotator)

    r = client.get(f"/projects/{project.pk}/label/", {"reveal": "²"})

    assert r.status_code == 400
    assert "Bad request" in r.text
    assert "must be a whole number" in r.text


def test_a_command_takes_a_project_id_only_as_a_whole_number(project):
    with pytest.raises(CommandError, match="No project named '²'"):
        call_command("export_gold", "²", "--out", "/dev/null")


class ProjectRow(serializers.Serializer[Project]):
    id = serializers.IntegerField()


@pytest.mark.parametrize(
    "cursor",
    [
        "cD3Csg==",  # p=² (not ascii once decoded)
        "cD1hYmM=",  # p=abc
        "cD05OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5",  # p= 25 nines
        "not base64!",
    ],
)
def test_a_forged_cursor_is_a_400_naming_it(cursor, project):
    request = APIRequestFactory().get("/api/x/", {"cursor": cursor})
    view = APIView()
    drf_request = view.initialize_request(request)

    with pytest.raises(serializers.ValidationError) as e:
        paged_response(drf_request, view, Project.objects.all(), ProjectRow)

    assert "cursor" in e.value.detail


def test_a_real_cursor_still_pages(project):
    ProjectFactory.create_batch(2)
    request = APIRequestFactory().get("/api/x/", {"page_size": "1"})
    view = APIView()
    first = paged_response(
        view.initialize_request(request), view, Project.objects.all(), ProjectRow
    )
    nxt = first.data["next"]
    cursor = nxt.split("cursor=")[1].split("&")[0]
    request = APIRequestFactory().get(
        "/api/x/", {"page_size": "1", "cursor": unquote(cursor)}
    )
    second = paged_response(
        view.initialize_request(request), view, Project.objects.all(), ProjectRow
    )

    assert second.data["results"][0]["id"] > first.data["results"][0]["id"]


def test_a_bad_request_under_the_api_is_the_error_body():
    message = "The query parameter 'before' must be a whole number."
    raised = exception_handler(BadRequest(message), {})
    handled = bad_request(RequestFactory().get("/api/x/"), BadRequest(message))

    assert raised is not None
    assert (raised.status_code, raised.data) == (400, {"detail": message, "errors": {}})
    assert handled.status_code == 400
    assert json.loads(handled.content) == {"detail": message, "errors": {}}
