"""The review queue: claim the next item to adjudicate, with what the review
screen shows of it."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_project
from annotate.api.common import responses
from annotate.api.decisions import DecisionSerializer
from annotate.api.labelling import TranscriptOutputSerializer, _transcript_data
from annotate.models import Role
from annotate.queries import review_item
from annotate.services.review import review_claim_next


class ReviewLabelSerializer(serializers.Serializer[Any]):
    annotator = serializers.CharField()
    values = serializers.DictField()
    created_at = serializers.DateTimeField()
    reliability = serializers.FloatField(
        allow_null=True,
        help_text="Agreement with the others' majority on the key field.",
    )


class ReviewClaimOutputSerializer(serializers.Serializer[Any]):
    item = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    transcript = TranscriptOutputSerializer()
    labels = ReviewLabelSerializer(many=True)
    gold = serializers.DictField(
        help_text="The current gold per field: {value, method, confidence}."
    )
    decisions = DecisionSerializer(many=True)


class ProjectReviewClaimApi(APIView):
    """Claim the next item of the review queue (or get one's live claim
    back); 204 when the queue is empty. Record the decision at
    /api/projects/{project_id}/items/{item_id}/decision/."""

    @extend_schema(
        summary="Claim the next item to review, with its labels",
        request=None,
        responses=responses(
            {
                200: ReviewClaimOutputSerializer,
                204: OpenApiResponse(description="The review queue is empty."),
            }
        ),
    )
    def post(self, request: Request, project_id: int) -> Response:
        membership = access_project(request.user, project_id, role=Role.REVIEWER)
        claim = review_claim_next(membership=membership, now=timezone.now())
        review = (
            review_item(project=membership.project, item_id=claim.item_id)
            if claim
            else None
        )
        if claim is None or review is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(
            {
                "item": review.item.pk,
                "expires_at": claim.expires_at,
                "transcript": _transcript_data(review.item.transcript),
                "labels": ReviewLabelSerializer(review.labels, many=True).data,
                "gold": review.gold,
                "decisions": DecisionSerializer(review.decisions, many=True).data,
            }
        )
