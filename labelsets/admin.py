from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from labelsets.models import LabelSet, LabelSetVersion


class LabelSetVersionInline(admin.TabularInline[LabelSetVersion, LabelSet]):
    """Versions are immutable: annotations point at them. Add one with
    `manage.py labelset_load`, which checks the schema first."""

    model = LabelSetVersion
    fields = ("number", "field_names", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(
        self, request: HttpRequest, obj: LabelSet | None = None
    ) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: LabelSet | None = None
    ) -> bool:
        return False

    @admin.display(description="fields")
    def field_names(self, version: LabelSetVersion) -> str:
        return ", ".join(f.name for f in version.schema.fields)


@admin.register(LabelSet)
class LabelSetAdmin(admin.ModelAdmin[LabelSet]):
    list_display = ("name", "description", "created_by", "created_at")
    search_fields = ("name",)
    readonly_fields = ("name", "created_by", "created_at")
    inlines = (LabelSetVersionInline,)
