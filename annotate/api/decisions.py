"""Adjudication decisions: the project's, one item's history, and recording
one with its reason, as the adjudication page does."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_project, access_review_item
from annotate.api.common import authenticated_user, paged, paged_response, responses
from annotate.models import Decision, Item, Role
from annotate.queries import seen_by
from annotate.services.gold import decision_record

PAGE_PARAMETERS = [OpenApiParameter("cursor", str), OpenApiParameter("page_size", int)]


class DecisionSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    item = serializers.IntegerField(source="item_id")
    number = serializers.IntegerField()
    reviewer = serializers.CharField(source="reviewer.username")
    label_set_version = serializers.IntegerField(source="label_set_version.number")
    values = serializers.DictField()
    before = serializers.DictField(help_text="The gold values it replaced.")
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


def _decisions() -> Any:
    return Decision.objects.select_related("reviewer", "label_set_version")


class ProjectDecisionListApi(APIView):
    """Every decision of the project, newest first, except those on items the
    caller labels themselves: a decision shows the gold, and labelling is blind."""

    class FilterSerializer(serializers.Serializer[Any]):
        item = serializers.IntegerField(required=False, min_value=1)
        reviewer = serializers.CharField(required=False, max_length=150)
        since = serializers.DateTimeField(required=False)

    @extend_schema(
        summary="The project's decisions (reviewers and managers)",
        parameters=[
            OpenApiParameter("item", int),
            OpenApiParameter("reviewer", str, description="Username."),
            OpenApiParameter(
                "since", OpenApiTypes.DATETIME, description="Made at or after."
            ),
            *PAGE_PARAMETERS,
        ],
        responses=responses({200: paged(DecisionSerializer)}, invalid=True),
    )
    def get(self, request: Request, project_id: int) -> Response:
        access_project(request.user, project_id, role=Role.REVIEWER)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        rows = _decisions().filter(item__project_id=project_id)
        rows = rows.exclude(seen_by(authenticated_user(request).pk, item="item_id"))
        if "item" in f:
            rows = rows.filter(item_id=f["item"])
        if "reviewer" in f:
            rows = rows.filter(reviewer__username=f["reviewer"])
        if "since" in f:
            rows = rows.filter(created_at__gte=f["since"])
        return paged_response(request, self, rows, DecisionSerializer, ordering="-id")


def _item(request: Request, project_id: int, item_id: int) -> Item:
    """The project's item, for a reviewer who does not label it (404, 403)."""
    project = access_project(request.user, project_id, role=Role.REVIEWER).project
    access_review_item(request.user, project, item_id)
    item = Item.objects.filter(project=project, pk=item_id).first()
    if item is None:
        raise Http404("No such item in this project.")
    item.project = project
    return item


class ItemDecisionApi(APIView):
    """Record a decision: the item's gold labels with the reason. Each one is
    a new version; the item leaves the review queue."""

    class InputSerializer(serializers.Serializer[Any]):
        values = serializers.DictField(help_text="Values for the label set's fields.")
        reason = serializers.CharField(max_length=5000)

    @extend_schema(
        summary="Record an adjudication decision with its reason",
        request=InputSerializer,
        responses=responses({201: DecisionSerializer}, invalid=True),
    )
    def post(self, request: Request, project_id: int, item_id: int) -> Response:
        item = _item(request, project_id, item_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decision = decision_record(
            item=item,
            reviewer=authenticated_user(request),
            values=data.validated_data["values"],
            reason=data.validated_data["reason"],
            now=timezone.now(),
        )
        return Response(
            DecisionSerializer(_decisions().get(pk=decision.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class ItemDecisionHistoryApi(APIView):
    @extend_schema(
        summary="An item's decisions, newest first (reviewers and managers)",
        parameters=PAGE_PARAMETERS,
        responses=responses({200: paged(DecisionSerializer)}),
    )
    def get(self, request: Request, project_id: int, item_id: int) -> Response:
        item = _item(request, project_id, item_id)
        rows = _decisions().filter(item_id=item.pk)
        return paged_response(request, self, rows, DecisionSerializer, ordering="-id")
