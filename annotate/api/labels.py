"""Annotations: an annotator's own labels, everyone's for reviewers and
managers, and an annotator's correction of their own label."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_annotation, access_project
from annotate.api.common import authenticated_user, paged, paged_response, responses
from annotate.models import Annotation, Role
from annotate.queries import seen_by
from annotate.services.queue import annotation_update

KINDS = ("human", "judge")


class AnnotationRowSerializer(serializers.Serializer[Annotation]):
    id = serializers.IntegerField()
    item = serializers.IntegerField(source="item_id")
    # The item's id is its transcript's (Item.transcript is its primary key).
    transcript = serializers.IntegerField(source="item_id")
    annotator = serializers.CharField(source="annotator.username")
    kind = serializers.SerializerMethodField()
    label_set_version = serializers.IntegerField(source="label_set_version.number")
    values = serializers.DictField()
    seconds_spent = serializers.FloatField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_kind(self, annotation: Annotation) -> str:
        return "human" if annotation.is_human else "judge"


class ProjectAnnotationListApi(APIView):
    """An annotator gets only their own labels, whatever they filter by:
    labelling is blind. Reviewers and managers get everyone's, except on
    the items they label themselves (access.access_review_item's rule)."""

    class FilterSerializer(serializers.Serializer[Any]):
        annotator = serializers.CharField(required=False, max_length=150)
        item = serializers.IntegerField(required=False, min_value=1)
        transcript = serializers.IntegerField(required=False, min_value=1)
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)
        kind = serializers.ChoiceField(choices=KINDS, required=False, default="human")

    @extend_schema(
        summary="Annotations: one's own, or everyone's for reviewers and managers",
        parameters=[
            OpenApiParameter(
                "annotator", str, description="Username (reviewers and managers)."
            ),
            OpenApiParameter("item", int),
            OpenApiParameter("transcript", int),
            OpenApiParameter(
                "since", OpenApiTypes.DATETIME, description="Made at or after."
            ),
            OpenApiParameter(
                "until", OpenApiTypes.DATETIME, description="Made before."
            ),
            OpenApiParameter(
                "kind",
                str,
                enum=KINDS,
                description="human (default) or judge (reviewers and managers).",
            ),
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses=responses({200: paged(AnnotationRowSerializer)}, invalid=True),
    )
    def get(self, request: Request, project_id: int) -> Response:
        membership = access_project(request.user, project_id)
        user = authenticated_user(request)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        rows = Annotation.objects.filter(item__project_id=project_id)
        if membership.has_role(Role.REVIEWER):
            rows = rows.filter(is_human=f["kind"] == "human").exclude(
                Q(seen_by(user.pk, item="item_id")) & ~Q(annotator_id=user.pk)
            )
            if "annotator" in f:
                rows = rows.filter(annotator__username=f["annotator"])
        else:
            rows = rows.filter(annotator_id=user.pk, is_human=True)
        if "item" in f:
            rows = rows.filter(item_id=f["item"])
        if "transcript" in f:
            rows = rows.filter(item_id=f["transcript"])
        if "since" in f:
            rows = rows.filter(created_at__gte=f["since"])
        if "until" in f:
            rows = rows.filter(created_at__lt=f["until"])
        return paged_response(
            request,
            self,
            rows.select_related("annotator", "label_set_version"),
            AnnotationRowSerializer,
            ordering="-id",
        )


class AnnotationCorrectionApi(APIView):
    """Correct one's own label while corrections are open (an hour), as the
    labelling page's correction does."""

    class InputSerializer(serializers.Serializer[Any]):
        values = serializers.DictField()

    @extend_schema(
        summary="Correct one's own label (within the correction window)",
        request=InputSerializer,
        responses=responses({200: AnnotationRowSerializer}, invalid=True),
    )
    def post(self, request: Request, annotation_id: int) -> Response:
        annotation, _ = access_annotation(request.user, annotation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        corrected = annotation_update(
            annotation=annotation,
            values=data.validated_data["values"],
            now=timezone.now(),
        )
        corrected.annotator = authenticated_user(request)
        return Response(AnnotationRowSerializer(corrected).data)
