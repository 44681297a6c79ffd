"""The active-learning queue's model: the current one, its history, and a
retrain, as the project page shows and starts them."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_project
from annotate.api.common import (
    JOB_ACCEPTED,
    JOB_LOCATION,
    authenticated_user,
    job_accepted,
    paged,
    paged_response,
    responses,
)
from annotate.models import JobKind, QueueModel, Role
from annotate.services.learning import queue_job_create


class QueueModelSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField()
    trained_at = serializers.DateTimeField(source="created_at")
    heuristic = serializers.BooleanField(
        help_text="The cold-start refusal-phrase score, trained on nothing."
    )
    strategy = serializers.CharField()
    settings = serializers.DictField()
    labels_used = serializers.IntegerField()
    target_fields = serializers.DictField(
        source="fields", help_text="Per target field: {classes, n_train, cv_macro_f1}."
    )
    macro_f1 = serializers.FloatField(allow_null=True)
    train_seconds = serializers.FloatField()
    score_seconds = serializers.FloatField()
    items_scored = serializers.IntegerField()
    note = serializers.CharField()
    load_error = serializers.CharField()


def _models(request: Request, project_id: int) -> Any:
    access_project(request.user, project_id, role=Role.REVIEWER)
    # The fitted model itself is for the worker, never for the answer.
    return QueueModel.objects.filter(project_id=project_id).defer("artefact")


class QueueModelApi(APIView):
    @extend_schema(
        summary="The queue's current model, with its figures (reviewers and managers)",
        responses=responses({200: QueueModelSerializer}),
    )
    def get(self, request: Request, project_id: int) -> Response:
        current = _models(request, project_id).order_by("-version").first()
        if current is None:
            # DRF's NotFound, not Http404: its message, the way out, is kept.
            raise exceptions.NotFound(
                "No queue model yet: POST "
                f"/api/projects/{project_id}/queue-model/retrain/ trains one."
            )
        return Response(QueueModelSerializer(current).data)


class QueueModelHistoryApi(APIView):
    @extend_schema(
        summary="Every model the queue was trained with, newest first",
        parameters=[
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses=responses({200: paged(QueueModelSerializer)}),
    )
    def get(self, request: Request, project_id: int) -> Response:
        return paged_response(
            request,
            self,
            _models(request, project_id),
            QueueModelSerializer,
            ordering="-id",
        )


class QueueModelRetrainApi(APIView):
    """Retrain the queue's model and rescore (or join the retrain running):
    202 with the job; poll it at the Location."""

    @extend_schema(
        summary="Retrain the queue's model (managers)",
        request=None,
        parameters=[JOB_LOCATION],
        responses=responses({**JOB_ACCEPTED}, invalid=True),
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.MANAGER).project
        job = queue_job_create(
            project=project,
            kind=JobKind.RETRAIN,
            created_by=authenticated_user(request),
            now=timezone.now(),
        )
        return job_accepted(job)
