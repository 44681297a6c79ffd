"""URL converters."""

from __future__ import annotations


class IdConverter:
    """A row id in a URL: at most 18 digits, so it always fits the database's
    bigint (an id past it would overflow in the query and answer a 500);
    longer is no route, a 404."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
