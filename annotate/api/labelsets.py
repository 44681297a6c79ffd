"""Label sets, seen through the projects that use them; new versions."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import access_workspace
from annotate.api.common import authenticated_user, paged, paged_response, responses
from annotate.forms import LabelSetUploadForm
from annotate.queries import (
    label_sets_visible_to,
)
from annotate.services.projects import labelset_upload
from labelsets.models import LabelSet, LabelSetVersion
from labelsets.schema import SchemaError
from labelsets.services import labelset_dump, labelset_version_allowed


class VersionOutputSerializer(serializers.Serializer[LabelSetVersion]):
    number = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class LabelSetOutputSerializer(serializers.Serializer[LabelSet]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    versions = VersionOutputSerializer(many=True)


class LabelSetDetailSerializer(LabelSetOutputSerializer):
    may_add_version = serializers.BooleanField(
        help_text="Whether the caller may upload a new version."
    )


def _visible(request: Request) -> Any:
    return label_sets_visible_to(authenticated_user(request)).prefetch_related(
        "versions"
    )


class LabelSetListApi(APIView):
    @extend_schema(
        summary="The label sets the caller sees (those of their projects; "
        "staff: all), with their versions",
        responses=responses({200: paged(LabelSetOutputSerializer)}),
    )
    def get(self, request: Request) -> Response:
        return paged_response(
            request, self, _visible(request), LabelSetOutputSerializer
        )


class LabelSetDetailApi(APIView):
    @extend_schema(
        summary="A label set the caller sees, with its versions",
        responses=responses({200: LabelSetDetailSerializer}),
    )
    def get(self, request: Request, name: str) -> Response:
        label_set = _visible(request).filter(name=name).first()
        if label_set is None:
            raise exceptions.NotFound()
        may = labelset_version_allowed(label_set, authenticated_user(request))
        return Response(
            {**LabelSetOutputSerializer(label_set).data, "may_add_version": may}
        )


class LabelSetUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(
        help_text="YAML or JSON, as manage.py labelset_dump writes it; at most 1 MB."
    )


class LabelSetUploadedSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    number = serializers.IntegerField()
    created = serializers.BooleanField(
        help_text="false: the latest version already has this schema."
    )


class LabelSetVersionUploadApi(APIView):
    """A new version of a label set (or a new label set), checked and
    stored as the upload page and `manage.py labelset_load` do."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        summary="Upload a label set version: the file's data as JSON, or the "
        "YAML/JSON file; 201 when stored, 200 when unchanged",
        request={
            "application/json": OpenApiTypes.OBJECT,
            "multipart/form-data": LabelSetUploadSerializer,
        },
        responses=responses(
            {201: LabelSetUploadedSerializer, 200: LabelSetUploadedSerializer},
            invalid=True,
        ),
    )
    def post(self, request: Request, name: str) -> Response:
        user = authenticated_user(request)
        access_workspace(user)  # before the input's checks, as the page
        if request.content_type.startswith("application/json"):
            if not isinstance(request.data, dict):
                raise exceptions.ValidationError(
                    {"non_field_errors": ["Send the label set as a JSON object."]}
                )
            data: dict[str, object] = dict(request.data)
        else:
            form = LabelSetUploadForm(request.POST, request.FILES)
            if not form.is_valid():
                raise ValidationError(form.errors.as_data())
            data = form.cleaned_data["file"]
        # The URL names the label set: the data may leave it out, not contradict it.
        data.setdefault("name", name)
        if data["name"] != name:
            raise exceptions.ValidationError(
                {"name": [f"The data names {data['name']!r}, the URL {name!r}."]}
            )
        try:
            version, created = labelset_upload(data=data, user=user, now=timezone.now())
        except SchemaError as e:
            errors: dict[str, list[str]] = {}
            for error in e.errors:
                errors.setdefault(error.path, []).append(error.problem)
            raise exceptions.ValidationError(errors) from e
        uploaded = {"name": name, "number": version.number, "created": created}
        return Response(
            LabelSetUploadedSerializer(uploaded).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class LabelSetVersionApi(APIView):
    """A label set version's schema (fields, options, hotkeys, rules); 404
    unless the user may see the label set."""

    @extend_schema(
        summary="A label set version: fields, options, hotkeys, rules",
        responses=responses({200: OpenApiTypes.OBJECT}),
    )
    def get(self, request: Request, name: str, number: int) -> Response:
        # Only a label set the user may see (queries.label_sets_visible_to).
        visible = label_sets_visible_to(authenticated_user(request))
        version = (
            LabelSetVersion.objects.filter(
                label_set__in=visible, label_set__name=name, number=number
            )
            .select_related("label_set")
            .first()
        )
        if version is None:
            raise exceptions.NotFound()
        return Response(labelset_dump(version=version))
