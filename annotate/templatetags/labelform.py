"""The label form's fieldsets, rendered once per label set while blank.

A blank form of a label set always renders the same HTML, and rendering it
is most of the cost of serving an item: the fieldsets' loops over options
and scale levels took 44% of a web process's CPU under the load test (a
py-spy profile). So a blank form is rendered once per form class (one per
label set schema, labelsets.forms) and language, and reused; a form with
values, errors or a model's suggestions is rendered each time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from django import forms, template
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils.autoreload import file_changed
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()

TEMPLATE = "annotate/partials/_label_fields.html"


@register.simple_tag
def label_fields(form: forms.Form) -> SafeString:
    """The form's fieldsets (TEMPLATE), from the cache when the form is blank."""
    if form.is_bound or form.initial or _suggested(form):
        return _render(form)
    return _blank(type(form), get_language())


def _suggested(form: forms.Form) -> bool:
    # annotator._mark_prelabels puts a model's suggestion on a field.
    return any(getattr(f, "prelabel", None) for f in form.fields.values())


def _render(form: forms.Form) -> SafeString:
    html: SafeString = render_to_string(TEMPLATE, {"form": form})
    return html


# Form classes are few and cached themselves (64 schemas at most).
@lru_cache(maxsize=128)
def _blank(form_class: type[forms.Form], language: str | None) -> SafeString:
    return _render(form_class())


@receiver(file_changed)
def _template_edited(sender: Any, file_path: Path, **kwargs: Any) -> None:
    """runserver keeps serving after a template is edited: render afresh."""
    if file_path.suffix == ".html":
        _blank.cache_clear()
