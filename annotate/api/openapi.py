"""The schema's names: what a generated client calls each operation and shape."""

from __future__ import annotations

import re
from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema

# The query parameters of every cursor page (api.common.CursorPage).
PAGE_PARAMETERS = [
    {
        "in": "query",
        "name": "cursor",
        "schema": {"type": "string"},
        "description": "The page to read: follow `next` or `previous` rather than make one.",
    },
    {
        "in": "query",
        "name": "page_size",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
        "description": "Rows per page (default 100).",
    },
]


def _error(description: str) -> dict[str, Any]:
    """A response of the error body (api.common.ErrorSerializer's component)."""
    return {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        },
        "description": description,
    }


class AutoSchema(BaseAutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        # A list answered in cursor pages (its 200 is a ...Page component)
        # takes the page's parameters and answers a forged cursor with a 400,
        # wherever its view is declared.
        operation = super().get_operation(*args, **kwargs)
        if not operation:
            return operation
        ok = operation.get("responses", {}).get("200", {})
        ref = ok.get("content", {}).get("application/json", {}).get("schema", {})
        if str(ref.get("$ref", "")).endswith("Page"):
            names = {p["name"] for p in operation.get("parameters", [])}
            operation.setdefault("parameters", []).extend(
                p for p in PAGE_PARAMETERS if p["name"] not in names
            )
            operation["responses"].setdefault("400", _error("A bad filter or cursor."))
        # Any URL may be too long (middleware.UriLengthMiddleware), any write
        # with a token throttled (api.throttles), and any body in a format
        # the endpoint does not parse.
        operation["responses"].setdefault(
            "414", _error("A path and query string over MAX_URI_LENGTH characters.")
        )
        # Any request while the database restarts (middleware.DatabaseUnavailableMiddleware).
        operation["responses"].setdefault(
            "503", _error("The database is unavailable for a moment; see Retry-After.")
        )
        if self.method in {"POST", "PUT", "PATCH", "DELETE"}:
            operation["responses"].setdefault("429", _error("Too many writes."))
        if "requestBody" in operation:
            operation["responses"].setdefault(
                "415", _error("A body in a format this endpoint does not take.")
            )
        return operation

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
