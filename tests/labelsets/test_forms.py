from __future__ import annotations

import pytest
from django import forms

from labelsets.forms import label_form_for
from labelsets.models import LabelSetVersion

pytestmark = pytest.mark.django_db

REFUSAL = {
    "request_harm": "harmful",
    "refusal_type": "policy",
    "appropriateness": "appropriate_refusal",
    "acknowledge": "4",
    "explain": "5",
    "redirect": "3",
    "respect": "5",
}


@pytest.fixture
def version():
    return LabelSetVersion.objects.get(label_set__name="refusal-v1", number=1)


def test_the_form_has_a_widget_per_kind_and_knows_its_schema_fields(version):
    form = label_form_for(version)()

    assert isinstance(form.fields["refusal_type"].widget, forms.RadioSelect)
    assert isinstance(form.fields["failure_modes"].widget, forms.CheckboxSelectMultiple)
    assert isinstance(form.fields["explain"].widget, forms.RadioSelect)
    assert isinstance(form.fields["notes"].widget, forms.Textarea)
    assert not any(f.required for f in form.fields.values())
    assert form.fields["explain"].schema_field.show_if[0].field == "refusal_type"  # type: ignore[attr-defined]


def test_rating_choices_are_labelled_with_the_anchors(version):
    field = label_form_for(version)().fields["explain"]

    assert isinstance(field, forms.ChoiceField)
    choices = list(field.choices)  # type: ignore[arg-type]
    assert [value for value, _ in choices] == ["1", "2", "3", "4", "5"]
    assert choices[4] == ("5", "States why briefly, without preaching")


def test_the_form_class_is_built_once_per_version(version):
    assert label_form_for(version) is label_form_for(
        LabelSetVersion.objects.get(pk=version.pk)
    )


def test_valid_input_gives_the_clean_values(version):
    form = label_form_for(version)(
        {**REFUSAL, "failure_modes": ["inconsistency"], "notes": " ok "}
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data == {
        "request_harm": "harmful",
        "refusal_type": "policy",
        "appropriateness": "appropriate_refusal",
        "failure_modes": ["inconsistency"],
        "acknowledge": 4,
        "explain": 5,
        "redirect": 3,
        "respect": 5,
        "notes": "ok",
    }


def test_hidden_ratings_are_dropped(version):
    data = {
        "request_harm": "benign",
        "refusal_type": "none",
        "appropriateness": "appropriate_compliance",
        "explain": "2",
    }
    form = label_form_for(version)(data)

    assert form.is_valid(), form.errors
    assert "explain" not in form.cleaned_data


def test_schema_errors_land_on_their_fields(version):
    data = {**REFUSAL, "appropriateness": "appropriate_compliance"}
    del data["explain"]
    form = label_form_for(version)(data)

    assert not form.is_valid()
    assert form.errors["explain"] == ["This field is required."]
    assert form.has_error("appropriateness", code="rule")


def test_a_bad_choice_gets_one_error(version):
    form = label_form_for(version)({**REFUSAL, "refusal_type": "nope"})

    assert not form.is_valid()
    assert len(form.errors["refusal_type"]) == 1
    assert form.has_error("refusal_type", code="invalid_choice")


def test_an_empty_form_requires_the_visible_required_fields(version):
    form = label_form_for(version)({})

    assert not form.is_valid()
    assert set(form.errors) == {"request_harm", "refusal_type", "appropriateness"}
