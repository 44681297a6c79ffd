"""Untrusted input values parsed with Django's form fields, outside any form:
the one set of rules that a page, the API and a command share for the same
options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError


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
