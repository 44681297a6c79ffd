"""The labelling loop: claim, submit, skip."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_assignment, access_project
from annotate.api.common import responses
from annotate.models import (
    Annotation,
    SkipKind,
    Transcript,
)
from annotate.services.queue import annotation_submit, assignment_skip, item_claim_next


def _transcript_data(transcript: Transcript) -> dict[str, object]:
    # A plain dict: a ModelSerializer costs a millisecond on the claim path.
    return {
        "id": transcript.pk,
        "messages": transcript.messages,
        "source_model": transcript.source_model,
        "dataset": transcript.dataset,
        "external_id": transcript.external_id,
        "prompt_group": transcript.prompt_group,
        "metadata": transcript.annotator_metadata,
    }


class TranscriptOutputSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    messages = serializers.ListField(child=serializers.DictField())
    source_model = serializers.CharField()
    dataset = serializers.CharField()
    external_id = serializers.CharField()
    prompt_group = serializers.CharField()
    metadata = serializers.DictField()


class ClaimOutputSerializer(serializers.Serializer[Any]):
    """The claim's answer, for the schema: the view builds a plain dict."""

    id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    transcript = TranscriptOutputSerializer()
    content_warning = serializers.CharField(allow_null=True)
    label_set = inline_serializer(
        "ClaimLabelSet",
        {
            "name": serializers.CharField(),
            "version": serializers.IntegerField(),
            "url": serializers.CharField(),
        },
    )


class AnnotationOutputSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    item = serializers.IntegerField()
    values = serializers.DictField()
    seconds_spent = serializers.FloatField()
    client_uuid = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ProjectClaimApi(APIView):
    """Claim the next item (or get the live claim back); 204 when the queue is empty."""

    @extend_schema(
        summary="Claim the next item, or get the live claim back",
        request=None,
        responses=responses(
            {
                200: ClaimOutputSerializer,
                204: OpenApiResponse(description="The queue is empty."),
            },
            invalid=True,
        ),
    )
    def post(self, request: Request, project_id: int) -> Response:
        membership = access_project(request.user, project_id)
        # 400 with the reason, not the empty queue's 204: a pipeline should stop.
        membership.project.refuse_if_archived("nothing can be claimed")
        assignment = item_claim_next(membership=membership, now=timezone.now())
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        version = membership.project.label_set_version
        return Response(
            {
                "id": assignment.pk,
                "expires_at": assignment.expires_at,
                "transcript": _transcript_data(assignment.item.transcript),
                # Annotator care: show the warning, and the text on request.
                "content_warning": (
                    assignment.item.content_warning
                    if assignment.item.distressing
                    else None
                ),
                # The schema itself once per client, not with every claim.
                "label_set": {
                    "name": version.label_set.name,
                    "version": version.number,
                    "url": f"/api/label-sets/{version.label_set.name}/{version.number}/",
                },
            }
        )


def _annotation_data(annotation: Annotation) -> dict[str, object]:
    # A plain dict, as for the transcript: the submit's answer.
    return {
        "id": annotation.pk,
        "item": annotation.item_id,
        "values": annotation.values,
        "seconds_spent": annotation.seconds_spent,
        "client_uuid": annotation.client_uuid,
        "created_at": annotation.created_at,
        "updated_at": annotation.updated_at,
    }


class AssignmentAnnotationApi(APIView):
    """Submit labels for a claim: 201 when stored, 200 when the client_uuid was seen."""

    class InputSerializer(serializers.Serializer[Any]):
        values = serializers.DictField()
        client_uuid = serializers.UUIDField()
        seconds = serializers.FloatField(min_value=0, required=False, default=0.0)

    @extend_schema(
        summary="Submit labels for a claim (idempotent by client_uuid)",
        request=InputSerializer,
        responses=responses(
            {201: AnnotationOutputSerializer, 200: AnnotationOutputSerializer},
            invalid=True,
        ),
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        assignment, _ = access_assignment(request.user, assignment_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        annotation, created = annotation_submit(
            assignment=assignment,
            values=data.validated_data["values"],
            client_uuid=data.validated_data["client_uuid"],
            seconds=data.validated_data["seconds"],
            now=timezone.now(),
        )
        return Response(
            _annotation_data(annotation),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class AssignmentSkipApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        reason = serializers.CharField(
            required=False, allow_blank=True, max_length=500, default=""
        )
        kind = serializers.ChoiceField(
            choices=SkipKind.choices, required=False, default=SkipKind.OTHER
        )

    @extend_schema(
        summary="Skip a claim, with a kind and a reason",
        request=InputSerializer,
        responses=responses(
            {
                200: inline_serializer(
                    "Skipped",
                    {
                        "id": serializers.IntegerField(),
                        "status": serializers.CharField(),
                        "kind": serializers.CharField(),
                    },
                )
            },
            invalid=True,
        ),
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        assignment, _ = access_assignment(request.user, assignment_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        skipped = assignment_skip(
            assignment=assignment,
            reason=data.validated_data["reason"],
            kind=SkipKind(data.validated_data["kind"]),
            now=timezone.now(),
        )
        return Response(
            {"id": skipped.pk, "status": skipped.status, "kind": skipped.skip_kind}
        )
