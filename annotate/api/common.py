"""What every API module shares: the caller and the job's shape."""

from __future__ import annotations

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
