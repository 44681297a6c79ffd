"""The label form's fieldsets: a blank form comes from the cache, and renders
what the template would; values, errors and suggestions are never cached."""

from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path

from django.template.loader import render_to_string
from django.utils.autoreload import file_changed

from annotate.templatetags import labelform
from annotate.views.annotator import _mark_prelabels
from labelsets.forms import label_form_for_schema
from labelsets.schema import parse_schema

REFUSAL_V1 = importlib.import_module("labelsets.migrations.0002_refusal_v1").REFUSAL_V1
FORM = label_form_for_schema(parse_schema(REFUSAL_V1))


def fresh(form) -> str:
    return render_to_string(labelform.TEMPLATE, {"form": form})


def test_a_blank_form_is_rendered_once_and_as_the_template_renders_it():
    labelform._blank.cache_clear()

    first = labelform.label_fields(FORM())
    again = labelform.label_fields(FORM())

    assert again is first  # the cached string, not a second render
    assert first == fresh(FORM())
    assert 'data-hotkey="1"' in first
    assert "checked" not in first


def test_each_label_set_has_its_own_fieldsets():
    other = copy.deepcopy(REFUSAL_V1)
    other["fields"][0]["label"] = "Harm of the request, renamed"
    renamed = label_form_for_schema(parse_schema(other))

    html = labelform.label_fields(renamed())

    assert "Harm of the request, renamed" in html
    assert "Harm of the request, renamed" not in labelform.label_fields(FORM())


def test_chosen_values_errors_and_suggestions_are_rendered_each_time():
    labelform.label_fields(FORM())  # a blank one cached first

    chosen = labelform.label_fields(FORM(initial={"request_harm": "benign"}))
    bound = FORM({"request_harm": "no such option"})
    bound.is_valid()
    invalid = labelform.label_fields(bound)
    suggested = FORM()
    _mark_prelabels(suggested, {"refusal_type": {"value": "policy", "p": 0.8}})

    assert re.search(r'value="benign"[^>]*checked', chosen)
    assert 'class="errorlist"' in invalid
    assert "Model suggestion" in labelform.label_fields(suggested)
    assert "Model suggestion" not in labelform.label_fields(FORM())


def test_an_edited_template_is_rendered_afresh_under_runserver():
    labelform.label_fields(FORM())
    assert labelform._blank.cache_info().currsize >= 1

    file_changed.send(sender=None, file_path=Path("templates/x/_label_fields.html"))

    assert labelform._blank.cache_info().currsize == 0


def test_a_suggestion_marked_on_one_form_stays_off_the_next():
    # The form class's fields are shared between its forms (labelsets.forms).
    marked = FORM()
    _mark_prelabels(marked, {"refusal_type": {"value": "policy", "p": 0.8}})

    later = FORM()

    assert marked.fields["refusal_type"].prelabel["percent"] == 80  # type: ignore[attr-defined]
    assert not hasattr(later.fields["refusal_type"], "prelabel")
    assert not hasattr(FORM.base_fields["refusal_type"], "prelabel")
    assert "Model suggestion" not in labelform.label_fields(later)
