"""Label sets, seen through the projects that use them."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.api.common import authenticated_user, responses
from annotate.queries import (
    label_sets_visible_to,
)
from labelsets.models import LabelSetVersion
from labelsets.services import labelset_dump


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
