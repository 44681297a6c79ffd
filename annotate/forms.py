"""HTML input forms (label forms are built from the label set in labelsets.forms)."""

from __future__ import annotations

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
