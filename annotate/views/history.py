"""The project's History for managers: the audit log, filtered, newest first,
its changes in the words the screens use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.forms.utils import pretty_name
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotate.access import access_project
from annotate.forms import HistoryFilterForm, ProjectForm, QualityForm, QuotaForm
from annotate.http import AuthenticatedHtmxRequest
from annotate.models import (
    AuditEntry,
    Batch,
    GoldMethod,
    Membership,
    Project,
    QueueStrategy,
    Role,
)
from annotate.queries import audit_entries
from annotate.services.care import window_words
from labelsets.models import LabelSetVersion
from labelsets.schema import Schema

HISTORY_PAGE = 50

# Each stored field's label on the screen that sets it; what no form names
# is labelled here.
_FORMS: tuple[type[forms.Form], ...] = (ProjectForm, QualityForm)
LABELS: dict[str, str] = {
    **{
        name: str(field.label or pretty_name(name))
        for form in _FORMS
        for name, field in form.base_fields.items()
    },
    "lease": "Claim lease",
    "flagged_window": "Cap window",
    "quota_day": f"Daily quota ({QuotaForm.base_fields['quota_day'].label})",
    "quota_total": f"Total quota ({QuotaForm.base_fields['quota_total'].label})",
    "role": "Role",
    "is_active": "Active",
    "archived_at": "Archived",
    "mode": "Mode",
    "items_count": "Items",
    "assigned": "Assigned",
    "reason": "Reason",
}
CHOICES: dict[str, Mapping[Any, str]] = {
    "role": dict(Role.choices),
    "gold_method": dict(GoldMethod.choices),
    "queue_strategy": dict(QueueStrategy.choices),
    "mode": dict(Batch.Mode.choices),
}


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str


@require_GET
@login_required
def history(request: AuthenticatedHtmxRequest, project_id: int) -> HttpResponse:
    """The project's audit log, HISTORY_PAGE entries at a time (keyset on id)."""
    project = access_project(request.user, project_id, role=Role.MANAGER).project
    form = HistoryFilterForm(request.GET or None, actors=_actors(project))
    rows: list[tuple[AuditEntry, list[Change]]] = []
    older = None
    if not form.is_bound or form.is_valid():
        rows, last = _page(project, form.cleaned_data if form.is_bound else {})
        older = _older_query(request, last) if last else None
    ctx = {"project": project, "form": form, "rows": rows, "older": older}
    template = "annotate/manager/history.html"
    return render(request, f"{template}#entries" if request.htmx else template, ctx)


def _page(
    project: Project, f: Mapping[str, Any]
) -> tuple[list[tuple[AuditEntry, list[Change]]], int | None]:
    """The entries the filters `f` pick, before the entry id `f["before"]`,
    with their changes; and the id to page on from, if there are older ones."""
    entries = audit_entries(
        project,
        action=f.get("action", ""),
        actor=f.get("actor", ""),
        object_type=f.get("object_type", ""),
        object_id=f.get("object_id"),
    )
    if f.get("before"):
        entries = entries.filter(pk__lt=f["before"])
    page = list(entries[: HISTORY_PAGE + 1])
    shown = page[:HISTORY_PAGE]
    rows = list(zip(shown, changes_of(project, shown), strict=True))
    return rows, shown[-1].pk if len(page) > HISTORY_PAGE else None


def _actors(project: Project) -> list[str]:
    """Everyone who is or was a member: who can have changed something."""
    return list(
        Membership.objects.filter(project=project)
        .order_by("user__username")
        .values_list("user__username", flat=True)
    )


def _older_query(request: AuthenticatedHtmxRequest, last_id: int) -> str:
    query = request.GET.copy()
    query["before"] = str(last_id)
    return query.urlencode()


def changes_of(project: Project, entries: Iterable[AuditEntry]) -> list[list[Change]]:
    """Each entry's changed fields as the screens word them (labels of
    fields, options and choices, never stored values); one query for the
    label set versions they name."""
    entries = list(entries)
    version_ids = {
        v
        for e in entries
        for side in (e.before, e.after)
        if isinstance(v := side.get("label_set_version"), int)
    }
    versions = {
        v.pk: str(v) for v in LabelSetVersion.objects.filter(pk__in=version_ids)
    }
    schema = project.label_set_version.schema
    return [_changes(e, schema=schema, versions=versions) for e in entries]


def _changes(
    entry: AuditEntry, *, schema: Schema, versions: Mapping[int, str]
) -> list[Change]:
    before, after = entry.before, entry.after
    out: list[Change] = []
    for name in dict.fromkeys([*before, *after]):
        old, new = before.get(name), after.get(name)
        if name == "values":
            out.extend(_label_changes(old or {}, new or {}, schema))
        elif name == "queue_settings":
            old, new = old or {}, new or {}
            out.extend(
                Change(
                    LABELS.get(k, pretty_name(k)),
                    _shown(k, old.get(k)),
                    _shown(k, new.get(k)),
                )
                for k in dict.fromkeys([*old, *new])
                if old.get(k) != new.get(k)
            )
        elif name == "label_set_version":
            out.append(
                Change(LABELS[name], versions.get(old, "—"), versions.get(new, "—"))
            )
        else:
            out.append(
                Change(
                    LABELS.get(name, pretty_name(name)),
                    _shown(name, old),
                    _shown(name, new),
                )
            )
    return out


def _label_changes(
    old: Mapping[str, object], new: Mapping[str, object], schema: Schema
) -> list[Change]:
    """Label-set values, each field by its label and its options' labels."""
    out = []
    for name in dict.fromkeys([*old, *new]):
        try:
            field = schema.field(name)
        except KeyError:  # a field of another version of the label set
            out.append(
                Change(pretty_name(name), _plain(old.get(name)), _plain(new.get(name)))
            )
        else:
            out.append(
                Change(
                    field.label, field.shown(old.get(name)), field.shown(new.get(name))
                )
            )
    return out


def _shown(name: str, value: object) -> str:
    if value is None:
        return (
            "no limit" if name in {"quota_day", "quota_total", "flagged_cap"} else "—"
        )
    if name in CHOICES:
        return CHOICES[name].get(value, str(value))
    if name in {"lease", "flagged_window"} and isinstance(value, int | float):
        return window_words(timedelta(seconds=value))
    if name == "archived_at" and isinstance(value, str):
        return f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M} UTC"
    if name == "assigned" and isinstance(value, dict):
        return ", ".join(f"{user} {n}" for user, n in value.items()) or "none"
    return _plain(value)


def _plain(value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
