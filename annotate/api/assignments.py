"""Directed work, for managers: batches by selection, their progress,
moving unstarted work between annotators, and quotas, as the Assign work
page does."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_project
from annotate.api.common import authenticated_user, paged, paged_response, responses
from annotate.models import Batch, Membership, Project, Role
from annotate.queries import batches_of
from annotate.services.assignments import (
    MAX_BATCH_ITEMS,
    SELECTION_KEYS,
    allocations_move,
    batch_create,
    batch_progress,
    membership_quota_set,
)


class BatchSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    mode = serializers.CharField()
    selection = serializers.DictField(help_text="What selected the items.")
    items_count = serializers.IntegerField()
    allocations_count = serializers.IntegerField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    created_at = serializers.DateTimeField()


class BatchProgressSerializer(serializers.Serializer[Any]):
    annotator = serializers.CharField()
    pending = serializers.IntegerField()
    started = serializers.IntegerField()
    labelled = serializers.IntegerField()
    skipped = serializers.IntegerField()
    moved = serializers.IntegerField()
    total = serializers.IntegerField()


class BatchDetailSerializer(BatchSerializer):
    progress = BatchProgressSerializer(many=True)


class BatchCreatedSerializer(BatchSerializer):
    per_annotator = serializers.DictField(child=serializers.IntegerField())
    left_out = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Items an annotator could not get: no free slot, or theirs already.",
    )


def _project(request: Request, project_id: int) -> Project:
    return access_project(request.user, project_id, role=Role.MANAGER).project


class ProjectBatchListApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        """The page's batch form: the selection, then to whom and how."""

        name = serializers.CharField(
            required=False, allow_blank=True, max_length=200, default=""
        )
        source_model = serializers.CharField(
            required=False, allow_blank=True, max_length=200, default=""
        )
        dataset = serializers.CharField(
            required=False, allow_blank=True, max_length=200, default=""
        )
        prompt_group = serializers.CharField(
            required=False, allow_blank=True, max_length=200, default=""
        )
        metadata_key = serializers.CharField(
            required=False, allow_blank=True, max_length=200, default=""
        )
        metadata_value = serializers.CharField(
            required=False, allow_blank=True, max_length=500, default=""
        )
        saved_search = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=1,
            help_text="The transcripts one of the project's saved searches finds.",
        )
        limit = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=1,
            max_value=MAX_BATCH_ITEMS,
            help_text="The next N items by priority; absent for all that match.",
        )
        annotators = serializers.ListField(
            child=serializers.CharField(max_length=150), allow_empty=False
        )
        mode = serializers.ChoiceField(
            choices=Batch.Mode.choices, required=False, default=Batch.Mode.EACH
        )

    @extend_schema(
        summary="The project's batches, newest first (managers)",
        parameters=[
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses=responses({200: paged(BatchSerializer)}),
    )
    def get(self, request: Request, project_id: int) -> Response:
        rows = batches_of(_project(request, project_id)).select_related("created_by")
        return paged_response(request, self, rows, BatchSerializer, ordering="-id")

    @extend_schema(
        summary="Assign the items a selection picks to annotators (managers)",
        request=InputSerializer,
        responses=responses({201: BatchCreatedSerializer}, invalid=True),
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        result = batch_create(
            project=project,
            name=given["name"],
            selection={key: given.get(key) for key in SELECTION_KEYS},
            usernames=given["annotators"],
            mode=Batch.Mode(given["mode"]),
            created_by=authenticated_user(request),
            now=timezone.now(),
        )
        body = BatchSerializer(result.batch).data
        body |= {"per_annotator": result.per_annotator, "left_out": result.left_out}
        return Response(body, status=status.HTTP_201_CREATED)


class ProjectBatchDetailApi(APIView):
    @extend_schema(
        summary="A batch with its progress per annotator (managers)",
        responses=responses({200: BatchDetailSerializer}),
    )
    def get(self, request: Request, project_id: int, batch_id: int) -> Response:
        project = _project(request, project_id)
        batch = (
            Batch.objects.filter(project=project, pk=batch_id)
            .select_related("created_by")
            .first()
        )
        if batch is None:
            raise Http404("No such batch in this project.")
        body = BatchSerializer(batch).data
        body["progress"] = batch_progress(batch)
        return Response(body)


class ProjectAllocationMoveApi(APIView):
    """Move a member's unstarted work to others, in turn (a deactivated
    member's too); what an item's targets all hold already stays."""

    class InputSerializer(serializers.Serializer[Any]):
        from_annotator = serializers.CharField(max_length=150)
        to_annotators = serializers.ListField(
            child=serializers.CharField(max_length=150), allow_empty=False
        )

    @extend_schema(
        summary="Move a member's unstarted work to other annotators (managers)",
        request=InputSerializer,
        responses=responses(
            {
                200: OpenApiResponse(
                    OpenApiTypes.OBJECT,
                    description="How many each target got by username, and "
                    "`kept`: those that stayed.",
                )
            },
            invalid=True,
        ),
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        moved = allocations_move(
            project=project,
            from_username=data.validated_data["from_annotator"],
            to_usernames=data.validated_data["to_annotators"],
            actor=authenticated_user(request),
            now=timezone.now(),
        )
        return Response(moved)


class QuotaSerializer(serializers.Serializer[Any]):
    quota_day = serializers.IntegerField(
        min_value=0, allow_null=True, help_text="Per day; null for no limit."
    )
    quota_total = serializers.IntegerField(
        min_value=0, allow_null=True, help_text="In all; null for no limit."
    )


class MemberQuotaApi(APIView):
    @extend_schema(
        summary="Set a member's quotas (managers)",
        request=QuotaSerializer,
        responses=responses({200: QuotaSerializer}, invalid=True),
    )
    def put(self, request: Request, project_id: int, user_id: int) -> Response:
        project = _project(request, project_id)
        membership = Membership.objects.filter(project=project, user_id=user_id).first()
        if membership is None:
            raise Http404("No such member.")
        membership.project = project
        data = QuotaSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = membership_quota_set(
            membership=membership,
            quota_day=data.validated_data["quota_day"],
            quota_total=data.validated_data["quota_total"],
            actor=authenticated_user(request),
            now=timezone.now(),
        )
        return Response(QuotaSerializer(updated).data)
