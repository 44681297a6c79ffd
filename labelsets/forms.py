"""The labelling form, built from a label set version's schema."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError

from labelsets.models import LabelSetVersion
from labelsets.schema import Field, Schema, validate_values


class _Shared:
    """A field every form of its class shares: Django deep-copies each form's
    fields from its class's, 6% of the web's CPU in the load test (a py-spy
    profile), for forms that never change one. Whoever would change a
    field replaces it in that form's `fields` with a copy first."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self


# Each form field carries its schema Field, so templates can show hotkeys,
# anchored levels and show_if without a second lookup.
class SingleField(_Shared, forms.ChoiceField):
    schema_field: Field


class MultiField(_Shared, forms.MultipleChoiceField):
    schema_field: Field


class TextField(_Shared, forms.CharField):
    schema_field: Field


class LabelForm(forms.Form):
    """Base of every label form; `schema` is set on the generated subclass."""

    schema: ClassVar[Schema]

    def clean(self) -> dict[str, Any]:
        # Form fields check only the shape; visibility, requiredness and
        # cross-field rules are the schema's, so the API and the form agree.
        try:
            return validate_values(self.schema, super().clean() or {})
        except ValidationError as e:
            for name, errors in e.error_dict.items():
                # A field that failed its own clean is missing from the values
                # and so "required" too; its own error is the one to show.
                if name not in self.errors:
                    for error in errors:
                        self.add_error(name, error)
            return self.cleaned_data


def label_form_for(version: LabelSetVersion) -> type[LabelForm]:
    """The form class for a version; built once, then cached."""
    return _form_for_schema(version.schema)


def label_form_for_schema(schema: Schema) -> type[LabelForm]:
    """The form class for a schema not stored yet (an upload's preview): the
    very form its version will have."""
    return _form_for_schema(schema)


# Keyed by the schema itself, not the version id: versions never change, but
# ids can be reused (a rolled-back test database, a restored dump).
@lru_cache(maxsize=64)
def _form_for_schema(schema: Schema) -> type[LabelForm]:
    class Form(LabelForm):
        pass

    Form.schema = schema
    Form.base_fields = {f.name: _form_field(f) for f in schema.fields}
    return Form


def _form_field(f: Field) -> forms.Field:
    # required=False throughout: whether a field is required depends on what
    # is visible, which validate_values decides in clean().
    common: dict[str, Any] = {"label": f.label, "help_text": f.help, "required": False}
    field: SingleField | MultiField | TextField
    if f.kind == "single":
        choices = [(o.value, o.label) for o in f.options]
        field = SingleField(choices=choices, widget=forms.RadioSelect, **common)
    elif f.kind == "multi":
        choices = [(o.value, o.label) for o in f.options]
        field = MultiField(
            choices=choices, widget=forms.CheckboxSelectMultiple, **common
        )
    elif f.kind == "rating":
        choices = [(str(lv.value), lv.label) for lv in f.scale]
        field = SingleField(choices=choices, widget=forms.RadioSelect, **common)
    else:
        # maxlength on the widget only: the length error comes from
        # validate_values, with the same code (too_long) as in the API.
        attrs = {"maxlength": str(f.max_length)} if f.max_length else {}
        field = TextField(widget=forms.Textarea(attrs=attrs), **common)
    field.schema_field = f
    return field
