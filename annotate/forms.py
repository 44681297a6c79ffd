"""HTML input forms (label forms are built from the label set in labelsets.forms)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from annotate import importers
from annotate.queries import ITEM_STATUSES, TranscriptFilters


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's ValidationError onto the form: field errors onto their
    fields, the rest (claim expired, a reason missing...) onto the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


class ImportForm(forms.Form):
    file = forms.FileField(help_text="JSONL, JSON, CSV or HH-RLHF text.")
    format = forms.ChoiceField(
        choices=[
            ("", "Detect from the file"),
            *((f, f.upper()) for f in importers.FORMATS),
        ],
        required=False,
    )


class AgreementForm(forms.Form):
    """Which annotations the agreement figures are computed on: the fields
    the page shows; services.agreement.agreement_request_parse has the rules."""

    source_model = forms.CharField(required=False, max_length=200, label="Model")
    dataset = forms.CharField(required=False, max_length=200)
    category = forms.CharField(
        required=False, max_length=200, help_text='Transcript metadata "category".'
    )
    since = forms.DateField(
        required=False,
        help_text="First annotation day.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = forms.DateField(
        required=False,
        help_text="Last annotation day.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    annotators = forms.CharField(
        required=False,
        max_length=2000,
        help_text="Usernames, comma-separated; empty for everyone.",
    )
    prelabels = forms.ChoiceField(
        required=False,
        label="Pre-labels",
        choices=[
            ("", "Everyone"),
            ("seen", "Labelled with the model's pre-labels shown"),
            ("unseen", "Labelled without pre-labels"),
        ],
        help_text="Compare the agreement of those who saw pre-labels with those who did not.",
    )
    resamples = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=10_000,
        widget=forms.NumberInput(attrs={"placeholder": "1000"}),
        help_text="Bootstrap resamples for the 95% intervals.",
    )


class ExportForm(forms.Form):
    """A gold export: the format, which items, and the split."""

    format = forms.ChoiceField(
        choices=[("jsonl", "JSONL"), ("csv", "CSV"), ("parquet", "Parquet")],
        initial="jsonl",
    )
    source_model = forms.CharField(required=False, max_length=200, label="Model")
    dataset = forms.CharField(required=False, max_length=200)
    min_agreement = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        help_text="Items whose labels agree at least this much (1 - disagreement).",
    )
    adjudicated_only = forms.BooleanField(required=False, label="Adjudicated only")
    include_unresolved = forms.BooleanField(
        required=False,
        label="Include items whose key field is unresolved",
        help_text='Each flagged "key_resolved": false; left out otherwise.',
    )
    since = forms.DateField(
        required=False,
        help_text="Gold changed on or after.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = forms.DateField(
        required=False,
        help_text="Gold changed on or before.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    train = forms.FloatField(min_value=0, max_value=1, initial=0.8)
    validation = forms.FloatField(min_value=0, max_value=1, initial=0.1)
    test = forms.FloatField(min_value=0, max_value=1, initial=0.1)
    annotations = forms.BooleanField(
        required=False,
        label="Every raw label too",
        help_text="Annotators appear as stable pseudonyms.",
    )

    def export_input(self) -> dict[str, object]:
        """The cleaned form as services.exports.export_options_parse reads it,
        which holds the rules (the split adding up to 1, among others)."""
        d = self.cleaned_data
        return {**d, "ratios": [d["train"], d["validation"], d["test"]]}


class TranscriptFilterForm(forms.Form):
    """The transcript browser's search and filters (queries.TranscriptFilters)."""

    text = forms.CharField(
        required=False,
        max_length=500,
        label="Text",
        help_text="In any message, ignoring case.",
    )
    external_id = forms.CharField(required=False, max_length=200, label="External id")
    source_model = forms.CharField(
        required=False,
        max_length=200,
        label="Model",
        widget=forms.TextInput(attrs={"list": "source-models"}),
    )
    dataset = forms.CharField(required=False, max_length=200)
    metadata_key = forms.CharField(required=False, max_length=200, label="Metadata key")
    metadata_value = forms.CharField(
        required=False,
        max_length=500,
        label="Metadata value",
        help_text="Empty: any transcript with the key.",
    )
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), *ITEM_STATUSES.items()],
        help_text=(
            "In progress: some labels, fewer than the project needs. Disputed: in "
            "the review queue. Adjudicated: a reviewer decided it."
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("metadata_value") and not data.get("metadata_key"):
            self.add_error("metadata_key", "Name the key the value is for.")
        return data

    def filters(self) -> TranscriptFilters:
        """The valid form's filters, each stripped of surrounding spaces."""
        return TranscriptFilters(
            **{name: str(self.cleaned_data.get(name) or "") for name in self.fields}
        )


class LabelSearchForm(forms.Form):
    """Search one annotator's labels by the transcript's id or its text."""

    q = forms.CharField(
        required=False,
        max_length=500,
        label="Search",
        help_text="An external id, or text in the transcript (ignoring case).",
    )
