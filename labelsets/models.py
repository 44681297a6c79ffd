"""Label sets are data: a named set with immutable, numbered versions of a schema."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from labelsets.schema import Schema


class LabelSet(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Who uploaded it from the browser: they (and staff) add its versions,
    # and see it before any project uses it. None for a label set loaded by
    # a migration or `manage.py labelset_load`: the installation's own,
    # shared with every manager. PROTECT: a deleted uploader must not turn
    # a private label set into a shared one.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    def __str__(self) -> str:
        return self.name

    def latest_version(self) -> LabelSetVersion:
        return self.versions.order_by("-number").first() or _missing(self)


def _missing(label_set: LabelSet) -> LabelSetVersion:
    raise LabelSetVersion.DoesNotExist(f"Label set {label_set.name} has no version.")


# (id, created_at) -> parsed schema. Versions are immutable; created_at joins
# the key because a rolled-back transaction can hand its id out again.
_PARSED: dict[tuple[int, datetime], Schema] = {}


class LabelSetVersion(models.Model):
    """One frozen schema. Never edited: a change is a new version.

    Annotations record the version they were made under, so old labels stay
    interpretable after the label set moves on.
    """

    label_set = models.ForeignKey(
        LabelSet, on_delete=models.PROTECT, related_name="versions"
    )
    number = models.PositiveIntegerField()
    schema_data = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["label_set", "number"], name="labelset_version_unique"
            ),
        ]
        ordering = ["label_set__name", "number"]

    def __str__(self) -> str:
        return f"{self.label_set.name} v{self.number}"

    @property
    def schema(self) -> Schema:
        """The parsed schema, parsed once per process: versions never change,
        so the hot paths can defer schema_data and skip both the JSON and
        the parse on every request."""
        key = (self.pk, self.created_at)
        schema = _PARSED.get(key)
        if schema is None:
            from labelsets.schema import parse_schema

            schema = _PARSED[key] = parse_schema(self.schema_data)
        return schema

    def validate(self, values: Any) -> dict[str, Any]:
        from labelsets.schema import validate_values

        return validate_values(self.schema, values)
