"""HTML input forms (label forms are built from the label set in labelsets.forms)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from annotate import importers
from annotate.models import Batch
from annotate.services.assignments import SELECTION_KEYS


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


class ItemFlagForm(forms.Form):
    """A manager's content warning on an item; services.care.item_flag_set
    holds the rules."""

    flagged = forms.BooleanField(required=False)
    note = forms.CharField(required=False, max_length=200)


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


class BatchForm(forms.Form):
    """Which items to assign and to whom: services.assignments has the rules."""

    name = forms.CharField(required=False, max_length=200)
    source_model = forms.CharField(required=False, max_length=200, label="Model")
    dataset = forms.CharField(required=False, max_length=200)
    prompt_group = forms.CharField(required=False, max_length=200)
    metadata_key = forms.CharField(
        required=False, max_length=200, label="Metadata key", help_text="E.g. category."
    )
    metadata_value = forms.CharField(required=False, max_length=500)
    limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10_000,
        label="At most",
        help_text="The next N items by priority; empty for all that match (10,000 at most).",
    )
    annotators = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    mode = forms.ChoiceField(choices=Batch.Mode.choices, initial=Batch.Mode.EACH)

    def __init__(self, *args: Any, usernames: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["annotators"].choices = [(u, u) for u in usernames]  # type: ignore[attr-defined]

    def selection(self) -> dict[str, Any]:
        return {k: self.cleaned_data.get(k) for k in SELECTION_KEYS}


class MoveForm(forms.Form):
    from_annotator = forms.ChoiceField(label="From")
    to_annotators = forms.MultipleChoiceField(
        label="To", widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, usernames: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(u, u) for u in usernames]
        self.fields["from_annotator"].choices = choices  # type: ignore[attr-defined]
        self.fields["to_annotators"].choices = choices  # type: ignore[attr-defined]


class QuotaForm(forms.Form):
    quota_day = forms.IntegerField(required=False, min_value=0, label="Per day")
    quota_total = forms.IntegerField(required=False, min_value=0, label="In all")
