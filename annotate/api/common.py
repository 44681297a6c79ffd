"""What every API module shares: the caller and the job's shape."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from rest_framework import exceptions, serializers
from rest_framework.request import Request

from annotate.models import (
    Job,
)


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
    errors, and 400 when it validates input."""
    return {**ok, **ERRORS, **({400: ErrorSerializer} if invalid else {})}


class JobStartedSerializer(serializers.Serializer[Any]):
    job = JobOutputSerializer()
