"""Untrusted input values parsed with Django's form fields, outside any form:
the one set of rules that a page, the API and a command share for the same
options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import BadRequest, ValidationError


def fields_parse(
    fields: Mapping[str, forms.Field], data: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Each field's clean value from `data` (absent keys are empty), and the
    messages of the ones that fail, by key."""
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, field in fields.items():
        try:
            clean[name] = field.clean(data.get(name))
        except ValidationError as e:
            errors[name] = e.messages
    return clean, errors


# Ids, cursors and version numbers fit the database's bigint; a longer
# number would overflow the query instead of finding nothing.
_WHOLE_NUMBER = forms.IntegerField(min_value=0, max_value=2**63 - 1)


def whole_number(raw: object) -> int | None:
    """`raw` as a non-negative whole number, or None when it is not one.

    Parsed by a form field rather than str.isdigit(), which accepts "²" that
    int() refuses."""
    try:
        value: int | None = _WHOLE_NUMBER.clean(str(raw))
    except ValidationError:
        return None
    return value


def query_number(data: Mapping[str, Any], name: str) -> int | None:
    """The whole number `name` of a query string; None when absent or empty.
    Anything else raises BadRequest naming the parameter (a 400, never a 500)."""
    raw = data.get(name)
    if raw is None or raw == "":
        return None
    value = whole_number(raw)
    if value is None:
        raise BadRequest(f"The query parameter {name!r} must be a whole number.")
    return value
