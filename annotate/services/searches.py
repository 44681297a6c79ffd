"""Saved searches: the transcript browser's filters under a name, shared by
a project's reviewers and managers, and a way to select a batch's items
(services.assignments.batch_items)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotate.models import Project, SavedSearch
from annotate.queries import ITEM_STATUSES, TranscriptFilters

NAME_MAX = SavedSearch._meta.get_field("name").max_length or 100


@transaction.atomic
def saved_search_create(
    *,
    project: Project,
    name: str,
    filters: TranscriptFilters,
    created_by: User,
    now: datetime,
) -> SavedSearch:
    """Save the browser's `filters` under `name` in the project.

    Raises ValidationError on `name`: code `required` for a blank one,
    `max_length` past NAME_MAX characters, `duplicate_name` when the project
    has a saved search of that name; on `status`, code `invalid` for one
    not in ITEM_STATUSES; code `empty` when no filter is set (that search
    is the whole list); code `archived` in an archived project. Nothing is
    saved then.
    """
    project.refuse_if_archived("no search can be saved in it")
    name = name.strip()
    if not name:
        raise _error("name", "Give the search a name.", code="required")
    if len(name) > NAME_MAX:
        raise _error(
            "name", f"A name has at most {NAME_MAX} characters.", code="max_length"
        )
    if filters.status and filters.status not in ITEM_STATUSES:
        raise _error("status", f"No status {filters.status!r}.", code="invalid")
    if filters == TranscriptFilters():
        raise ValidationError(
            "Filter the transcripts first: a search with no filter is the whole list.",
            code="empty",
        )
    try:
        # A savepoint of its own: the unique constraint catches two saves of
        # one name at once, and the caller's transaction goes on.
        with transaction.atomic():
            return SavedSearch.objects.create(
                project=project,
                name=name,
                created_by=created_by,
                created_at=now,
                **dataclasses.asdict(filters),
            )
    except IntegrityError:
        raise _error(
            "name",
            f"This project has a saved search named {name!r} already: choose another name.",
            code="duplicate_name",
        ) from None


def saved_search_delete(*, search: SavedSearch) -> None:
    """Delete a saved search. Idempotent. Batches it selected keep its id and
    name in their selection. Raises ValidationError (code `archived`) in an
    archived project."""
    search.project.refuse_if_archived("its saved searches cannot be deleted")
    SavedSearch.objects.filter(pk=search.pk).delete()


def saved_search_of(*, project: Project, search_id: int) -> SavedSearch:
    """The project's saved search `search_id`. Raises ValidationError (field
    `saved_search`, code `unknown`) naming an id that is none of the
    project's: another project's is as unknown as a deleted one."""
    found = SavedSearch.objects.filter(project=project, pk=search_id).first()
    if found is None:
        raise _error(
            "saved_search",
            f"No saved search #{search_id} in this project: it may have been deleted.",
            code="unknown",
        )
    return found


def _error(field: str, message: str, *, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})
