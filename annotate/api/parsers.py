"""The API's JSON parser."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, parsers, renderers


class JSONParser(parsers.BaseParser):
    """JSON bodies through orjson. The standard library's json.loads raises
    RecursionError on a body nested some 1,000 levels deep, which no handler
    expects (a 500); orjson refuses past 1,024 levels with JSONDecodeError,
    as it does lone surrogates (which PostgreSQL would refuse to store) and
    numbers beyond a double (1e400): all a 400 here."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        # DRF hands over the request itself as the stream, bypassing the
        # DATA_UPLOAD_MAX_MEMORY_SIZE check of request.body: read at most one
        # byte past it (the URL conf's handler400 makes this a 413).
        limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # None: no limit
        body = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(body) > limit:
            raise RequestDataTooBig(
                "Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."
            )
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise exceptions.ParseError(f"JSON parse error - {e}") from e
