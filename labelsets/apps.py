from __future__ import annotations

from django.apps import AppConfig


class LabelsetsConfig(AppConfig):
    name = "labelsets"
    verbose_name = "Label sets"
