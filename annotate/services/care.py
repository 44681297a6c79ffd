"""Annotator care: content warnings on possibly distressing items, and a cap
on how many of them the queue serves each annotator in a window.

An item is flagged (Item.distressing) by its metadata's `content_warning` at
import (importers.content_warning_of), by a manager (item_flag_set) or by an
annotator's flag and skip (item_flag_report, called by assignment_skip). The
labelling screen shows the warning and blurs the transcript until revealed.

The cap is per project and per annotator, over a rolling window: at most
`flagged_cap` labels of flagged items in any `flagged_window` (the last N
hours, not a browser session, so it holds across tabs, devices, logins and
the API). Past it the claim serves only unflagged items, until the oldest of
those labels leaves the window. It counts from Membership.flagged_recent,
kept by the submit of a flagged item, so the claim reads it with no query;
an item counts as flagged if it was when labelled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from annotate.importers import CONTENT_WARNING_MAX
from annotate.models import (
    FLAGGED_CAP_MAX,
    AuditAction,
    FlagSource,
    Item,
    ItemFlag,
    Membership,
    Project,
)
from annotate.services.audit import audit_record, changed

WINDOW_MIN = timedelta(minutes=10)
WINDOW_MAX = timedelta(days=7)


def flagged_pause_until(*, membership: Membership, now: datetime) -> datetime | None:
    """When the member may be served flagged items again, if the project's
    cap holds them back now; None if it does not (or the project has none).
    From the kept label times: no query."""
    project = membership.project
    cap = project.flagged_cap
    if cap is None or not membership.flagged_recent:
        return None
    start = (now - project.flagged_window).timestamp()
    inside = [t for t in membership.flagged_recent if t > start][-cap:]
    if len(inside) < cap:
        return None
    return datetime.fromtimestamp(inside[0], tz=UTC) + project.flagged_window


def window_words(window: timedelta) -> str:
    """A window in the screen's words: "4 hours", "90 minutes", "1 day"."""
    minutes = round(window.total_seconds() / 60)
    if minutes % (24 * 60) == 0:
        n, unit = minutes // (24 * 60), "day"
    elif minutes % 60 == 0:
        n, unit = minutes // 60, "hour"
    else:
        n, unit = minutes, "minute"
    return f"{n} {unit}{'' if n == 1 else 's'}"


def flagged_recent_add(
    recent: list[float], *, now: datetime, window: timedelta
) -> list[float]:
    """The kept label times with one more at `now`: those older than the
    window dropped, the latest FLAGGED_CAP_MAX kept (enough for any cap)."""
    start = (now - window).timestamp()
    kept = [t for t in recent if t > start]
    return sorted([*kept, round(now.timestamp(), 3)])[-FLAGGED_CAP_MAX:]


@transaction.atomic
def item_flag_set(
    *,
    item: Item,
    flagged: bool,
    note: str,
    by: User,
    now: datetime,
) -> Item:
    """A manager flags an item as possibly distressing (`note` names the kind
    of content, shown with the warning) or clears its flag (`note` says why).

    Either way the annotators' flags of the item waiting for review are
    reviewed, and the change is kept as an ItemFlag. Idempotent: the same
    flag and note again, with nothing to review, records nothing. Raises
    ValidationError (code `too_long`) for a note past CONTENT_WARNING_MAX,
    and in an archived project (code `archived`). Claims already on the item
    keep the warning they were shown.
    """
    item.project.refuse_if_archived("its content warnings cannot change")
    note = note.strip()
    if len(note) > CONTENT_WARNING_MAX:
        message = f"Keep it to {CONTENT_WARNING_MAX} characters."
        raise ValidationError({"note": ValidationError(message, code="too_long")})
    item = Item.objects.select_for_update().get(pk=item.pk)
    warning = note if flagged else ""
    reviewed = ItemFlag.objects.filter(item=item, review_pending=True).update(
        review_pending=False
    )
    if (item.distressing, item.content_warning) == (flagged, warning) and not reviewed:
        return item
    item.distressing, item.content_warning = flagged, warning
    Item.objects.filter(pk=item.pk).update(distressing=flagged, content_warning=warning)
    ItemFlag.objects.create(
        item=item,
        project_id=item.project_id,
        source=FlagSource.MANAGER,
        flagged=flagged,
        note=note,
        by=by,
        created_at=now,
    )
    return item


def item_flag_report(
    *, item_id: int, project_id: int, annotator_id: int, note: str, now: datetime
) -> ItemFlag:
    """An annotator's flag and skip: the item is flagged at once, so the next
    annotators see the warning, and the flag waits for a manager's review.

    Part of assignment_skip's transaction (which locks the claim, so one
    claim reports once). An item flagged already stays as it is; the flag is
    kept, with nothing to review.
    """
    changed = Item.objects.filter(pk=item_id, distressing=False).update(
        distressing=True
    )
    return ItemFlag.objects.create(
        item_id=item_id,
        project_id=project_id,
        source=FlagSource.ANNOTATOR,
        flagged=True,
        note=note[:500],
        by_id=annotator_id,
        created_at=now,
        review_pending=bool(changed),
    )


def care_settings_errors(
    *, flagged_cap: int | None, flagged_window: timedelta
) -> dict[str, ValidationError]:
    """What is wrong with a cap and its window, by setting: a cap outside
    1..FLAGGED_CAP_MAX (None: no cap), a window outside WINDOW_MIN..WINDOW_MAX."""
    errors = {}
    if flagged_cap is not None and not 1 <= flagged_cap <= FLAGGED_CAP_MAX:
        errors["flagged_cap"] = ValidationError(
            f"The cap is from 1 to {FLAGGED_CAP_MAX} items, or none for no cap.",
            code="invalid",
        )
    if not WINDOW_MIN <= flagged_window <= WINDOW_MAX:
        errors["flagged_window"] = ValidationError(
            "The window is from 10 minutes to 7 days.", code="invalid"
        )
    return errors


@transaction.atomic
def project_care_set(
    *,
    project: Project,
    flagged_cap: int | None,
    flagged_window: timedelta,
    actor: User | None,
    now: datetime,
) -> Project:
    """Set the project's cap on flagged items per annotator and its window.

    Takes effect at each annotator's next claim, counting the labels of
    flagged items they made in the window before it was set. Raises
    ValidationError naming the setting for a cap outside 1..FLAGGED_CAP_MAX
    (None turns the cap off) or a window outside WINDOW_MIN..WINDOW_MAX,
    and in an archived project.
    """
    project.refuse_if_archived("its settings cannot be changed")
    if errors := care_settings_errors(
        flagged_cap=flagged_cap, flagged_window=flagged_window
    ):
        raise ValidationError(errors)
    fields = {"flagged_cap": flagged_cap, "flagged_window": flagged_window}
    before, after = changed(
        Project.objects.filter(pk=project.pk).values(*fields).get(), fields
    )
    if after:
        audit_record(
            project_id=project.pk,
            actor=actor,
            action=AuditAction.SETTINGS_CHANGE,
            obj=project,
            before=before,
            after=after,
            now=now,
        )
    project.flagged_cap, project.flagged_window = flagged_cap, flagged_window
    Project.objects.filter(pk=project.pk).update(
        flagged_cap=flagged_cap, flagged_window=flagged_window
    )
    return project
