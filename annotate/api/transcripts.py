"""The transcript browser as an API (reviewers and managers): transcripts
filtered as the browser filters them, each with its item's state.

Labelling is blind: an item the caller labelled or holds a claim on shows
no status, counts or gold (the browser's "You label this item"), and no
endpoint here names an annotator or shows an annotator's label."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import BooleanField, ExpressionWrapper
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_project
from annotate.api.common import authenticated_user, paged, paged_response, responses
from annotate.forms import TranscriptFilterForm
from annotate.models import Gold, Item, Project, Role, Transcript
from annotate.queries import (
    ITEM_STATUSES,
    SEARCH_TIMEOUT_MS,
    SearchTooSlow,
    item_status,
    search_deadline,
    seen_by,
    transcript_for_review,
    transcripts_matching,
)


class ItemStateSerializer(serializers.Serializer[Any]):
    seen = serializers.BooleanField(
        help_text="The caller labels this item: nothing more is shown of it."
    )
    status = serializers.ChoiceField(
        choices=list(ITEM_STATUSES), allow_null=True, help_text="null when seen."
    )
    annotations_count = serializers.IntegerField(
        allow_null=True, help_text="Labels so far."
    )
    overlap = serializers.IntegerField(help_text="Labels the item needs.")
    gold = serializers.DictField(
        allow_null=True, help_text="The gold labels, when it has them."
    )
    adjudicated = serializers.BooleanField(allow_null=True)


def item_state(project: Project, transcript: Transcript) -> dict[str, Any] | None:
    """The item's state as the browser shows it; None when not queued."""
    try:
        item: Item = transcript.item
    except Item.DoesNotExist:
        return None
    seen = bool(getattr(transcript, "seen", False))
    if seen:
        return {
            "seen": True,
            "status": None,
            "annotations_count": None,
            "overlap": project.overlap,
            "gold": None,
            "adjudicated": None,
        }
    try:
        gold: Gold | None = item.gold
    except Gold.DoesNotExist:
        gold = None
    return {
        "seen": False,
        "status": item_status(project, item),
        "annotations_count": item.annotations_count,
        "overlap": project.overlap,
        "gold": gold.values if gold else None,
        "adjudicated": gold.adjudicated if gold else None,
    }


class BrowsedTranscriptSerializer(serializers.Serializer[Transcript]):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    source_model = serializers.CharField()
    dataset = serializers.CharField()
    prompt_group = serializers.CharField()
    metadata = serializers.DictField()
    created_at = serializers.DateTimeField()
    item = serializers.SerializerMethodField()

    @extend_schema_field(ItemStateSerializer(allow_null=True))
    def get_item(self, transcript: Transcript) -> dict[str, Any] | None:
        return item_state(self.context["project"], transcript)


class MessageSerializer(serializers.Serializer[Any]):
    role = serializers.CharField()
    content = serializers.CharField()


class BrowsedTranscriptDetailSerializer(BrowsedTranscriptSerializer):
    messages = MessageSerializer(many=True)


FILTER_PARAMETERS = [
    OpenApiParameter(
        name,
        OpenApiTypes.STR,
        required=False,
        description=str(field.help_text or field.label or name),
        enum=list(ITEM_STATUSES) if name == "status" else None,
    )
    for name, field in TranscriptFilterForm.base_fields.items()
]
PAGE_PARAMETERS = [
    OpenApiParameter("cursor", OpenApiTypes.STR, required=False),
    OpenApiParameter("page_size", OpenApiTypes.INT, required=False),
]


class TranscriptListApi(APIView):
    @extend_schema(
        summary="The project's transcripts, filtered as the transcript browser "
        "filters them, each with its item's state (reviewers and managers)",
        parameters=[*FILTER_PARAMETERS, *PAGE_PARAMETERS],
        responses=responses({200: paged(BrowsedTranscriptSerializer)}, invalid=True),
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.REVIEWER).project
        form = TranscriptFilterForm(request.query_params)
        if not form.is_valid():
            raise ValidationError(form.errors.as_data())
        filters = form.filters()
        viewer = authenticated_user(request).pk
        transcripts = (
            transcripts_matching(project=project, filters=filters, viewer_id=viewer)
            .annotate(seen=ExpressionWrapper(seen_by(viewer), BooleanField()))
            .select_related("item__gold")
        )
        try:
            with search_deadline(on=bool(filters.text)):
                return paged_response(
                    request,
                    self,
                    transcripts,
                    BrowsedTranscriptSerializer,
                    context={"project": project},
                )
        except SearchTooSlow as e:
            raise exceptions.ValidationError(
                {
                    "text": [
                        f"The text search took longer than {SEARCH_TIMEOUT_MS // 1000} "
                        "seconds and was stopped: narrow it by model, dataset or "
                        "status, or look the transcript up by its external id."
                    ]
                }
            ) from e


class TranscriptDetailApi(APIView):
    @extend_schema(
        summary="One transcript, its messages and its item's state "
        "(reviewers and managers)",
        responses=responses({200: BrowsedTranscriptDetailSerializer}),
    )
    def get(self, request: Request, project_id: int, transcript_id: int) -> Response:
        project = access_project(request.user, project_id, role=Role.REVIEWER).project
        transcript = transcript_for_review(
            project=project,
            transcript_id=transcript_id,
            viewer_id=authenticated_user(request).pk,
        )
        if transcript is None:
            raise exceptions.NotFound()
        return Response(
            BrowsedTranscriptDetailSerializer(
                transcript, context={"project": project}
            ).data
        )
