"""What every API module shares: the caller and the job's shape."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.models import (
    Job,
)
from annotate.queries import job_live


def authenticated_user(request: Request) -> User:
    """The request's user; the default IsAuthenticated permission has let only users in."""
    if not isinstance(request.user, User):
        raise exceptions.NotAuthenticated()
    return request.user


class JobOutputSerializer(serializers.ModelSerializer[Job]):
    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "project",
            "status",
            "stage",
            "progress_done",
            "progress_total",
            "result",
            "errors",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ErrorSerializer(serializers.Serializer[Any]):
    """The one error body of every API answer that is not a success."""

    detail = serializers.CharField()
    # Shadows Serializer.errors: fine for a shape that is documented, never validated.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages by field (or key path); empty when the detail says it all.",
    )


# The errors any authenticated endpoint may answer; each endpoint adds its own.
ERRORS: dict[int, type[ErrorSerializer]] = {
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
}


def responses(ok: dict[int, Any], *, invalid: bool = False) -> dict[int, Any]:
    """An endpoint's responses for the schema: its successes, the common
    errors, and 400 when it validates input; its own shape of a common
    error (a 404 that says more) replaces the common one."""
    common = {**ERRORS, **({400: ErrorSerializer} if invalid else {})}
    return {**ok, **{code: s for code, s in common.items() if code not in ok}}


# The schema of every endpoint that starts a job: `responses({**JOB_ACCEPTED})`
# and `parameters=[JOB_LOCATION]`.
JOB_ACCEPTED: dict[int, Any] = {202: JobOutputSerializer}
JOB_LOCATION = OpenApiParameter(
    "Location",
    str,
    OpenApiParameter.HEADER,
    response=[202],
    description="The job's URL, /api/jobs/{id}/: poll it until it has finished.",
)


def job_accepted(job: Job) -> Response:
    """The one answer of every endpoint that starts a job: 202, the job, and
    its URL in Location, so that a pipeline polls every kind of job the same way."""
    job.refresh_from_db()  # eager mode (no broker) has already run it
    return Response(
        JobOutputSerializer(job_live(job)).data,
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": reverse("api:api-job", args=[job.pk])},
    )


class NotComputedSerializer(ErrorSerializer):
    """A report's 404 until it is computed: the detail, and how to start it."""

    start = inline_serializer(
        "StartLink",
        {
            "method": serializers.CharField(),
            "url": serializers.CharField(help_text="Path and query string."),
        },
    )


def not_computed(request: Request) -> Response:
    """404 for a report not computed yet for this query: start it with a POST
    to the same URL (GET never starts work)."""
    return Response(
        {
            "detail": "Not computed yet for these parameters; POST to start it.",
            "errors": {},
            "start": {"method": "POST", "url": request.get_full_path()},
        },
        status=status.HTTP_404_NOT_FOUND,
    )


class CursorPage(CursorPagination):
    """Cursor pages for every list that can grow: stable while rows are
    inserted (an offset page would repeat or skip them), and no COUNT."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "id"


_PAGES: dict[
    type[serializers.BaseSerializer[Any]], type[serializers.Serializer[Any]]
] = {}


def paged(
    serializer: type[serializers.BaseSerializer[Any]],
) -> type[serializers.Serializer[Any]]:
    """The schema of a cursor page of `serializer` rows: {next, previous, results}."""
    if serializer not in _PAGES:
        name = re.sub(r"Serializer$", "", serializer.__name__) + "Page"
        _PAGES[serializer] = type(
            name,
            (serializers.Serializer,),
            {
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": serializer(many=True),
            },
        )
    return _PAGES[serializer]


def paged_response(
    request: Request,
    view: APIView,
    queryset: QuerySet[Any],
    serializer: type[serializers.BaseSerializer[Any]],
    *,
    ordering: str = "id",
    context: dict[str, Any] | None = None,
) -> Response:
    """One cursor page of `queryset`, ordered by a unique key (`id` or `-id`)."""
    page = CursorPage()
    page.ordering = ordering
    rows = page.paginate_queryset(queryset, request, view=view)
    return page.get_paginated_response(
        serializer(rows, many=True, context=context or {}).data
    )
