"""The audit log: one entry per change a manager may need to trace."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import models

from annotate.models import AuditAction, AuditEntry


def audit_record(
    *,
    project_id: int,
    actor: User | None,
    action: AuditAction,
    obj: models.Model,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    now: datetime,
    object_repr: str = "",
) -> AuditEntry:
    """Store who (`actor`, None for the system) did `action` to `obj`, with
    the changed fields' values before and after.

    Called by the service making the change, inside its transaction: the
    entry commits or rolls back with it. Values go through as_json, so
    durations and choices store as plain JSON.
    """
    return AuditEntry.objects.create(
        project_id=project_id,
        actor=actor,
        action=action,
        object_type=obj._meta.model_name or "",
        object_id=obj.pk,
        object_repr=(object_repr or str(obj))[:200],
        before={k: as_json(v) for k, v in before.items()},
        after={k: as_json(v) for k, v in after.items()},
        created_at=now,
    )


def changed(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(before, after) of the keys whose values differ between `old` and
    `new`, a key missing on one side standing as None there."""
    keys = [k for k in {**old, **new} if old.get(k) != new.get(k)]
    return {k: old.get(k) for k in keys}, {k: new.get(k) for k in keys}


def as_json(value: object) -> object:
    """A stored value as JSON: a duration in seconds, a model as its id."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, models.Model):
        return value.pk
    return value
