"""HTML input forms (label forms are built from the label set in labelsets.forms)."""

from __future__ import annotations

from typing import Any

from django import forms

from annotate import importers


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
    """Which annotations the agreement figures are computed on."""

    source_model = forms.CharField(required=False, max_length=200, label="Model")
    dataset = forms.CharField(required=False, max_length=200)
    category = forms.CharField(
        required=False, max_length=200, help_text='Transcript metadata "category".'
    )
    since = forms.DateField(required=False, help_text="First annotation day.")
    until = forms.DateField(required=False, help_text="Last annotation day.")
    resamples = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=10_000,
        initial=1000,
        help_text="Bootstrap resamples for the 95% intervals.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "Must not be before the first day.")
        return data
