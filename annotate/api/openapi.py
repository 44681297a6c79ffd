"""The schema's names: what a generated client calls each operation and shape."""

from __future__ import annotations

import re
from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema


class AutoSchema(BaseAutoSchema):
    def get_operation_id(self) -> str:
        # From the view class, not the path: ProjectListApi's GET is
        # project_list_get, and the detail's GET no longer collides with it.
        name = re.sub(r"Api$", "", type(self.view).__name__)
        return f"{re.sub(r'(?<!^)(?=[A-Z])', '_', name).lower()}_{self.method.lower()}"

    def get_serializer_name(
        self, serializer: Any, direction: Literal["request", "response"]
    ) -> str:
        # A view's nested InputSerializer is named after its view
        # (AssignmentSkipApi.InputSerializer -> AssignmentSkipInput), where the
        # default would give every one the same component "Input".
        qualname = type(serializer).__qualname__
        if "." in qualname:
            owner, inner = qualname.rsplit(".", 2)[-2:]
            return re.sub(r"Api$", "", owner) + re.sub(r"Serializer$", "", inner)
        return str(super().get_serializer_name(serializer, direction))
