"""Saved searches: the browser's filters under a name, per project."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from annotate.models import Project, SavedSearch
from annotate.queries import TranscriptFilters, saved_searches_of
from annotate.services.searches import (
    saved_search_create,
    saved_search_delete,
    saved_search_of,
)
from tests.factories import ProjectFactory, SavedSearchFactory
from tests.labelling import NOW

pytestmark = pytest.mark.django_db

DISPUTED_DRUGS = TranscriptFilters(
    text="meth", metadata_key="category", metadata_value="drugs", status="disputed"
)


def save(project, name, filters=DISPUTED_DRUGS, *, by):
    return saved_search_create(
        project=project, name=name, filters=filters, created_by=by, now=NOW
    )


def error_codes(excinfo) -> dict[str, list[str | None]]:
    return {
        field: [e.code for e in errors]
        for field, errors in excinfo.value.error_dict.items()
    }


def test_a_saved_search_keeps_the_filters_and_who_saved_it(project, reviewer):
    search = save(project, "  drugs, disputed ", by=reviewer)

    stored = SavedSearch.objects.get()
    assert stored == search
    assert stored.name == "drugs, disputed"
    assert stored.filters == DISPUTED_DRUGS
    assert stored.filters.query == (
        "text=meth&metadata_key=category&metadata_value=drugs&status=disputed"
    )
    assert (stored.project, stored.created_by, stored.created_at) == (
        project,
        reviewer,
        NOW,
    )


def test_a_name_taken_in_the_project_is_refused_on_the_name_field(
    project, reviewer, manager
):
    save(project, "drugs", by=reviewer)
    other = ProjectFactory()

    with pytest.raises(ValidationError) as excinfo:
        save(project, "drugs", TranscriptFilters(dataset="xstest"), by=manager)
    save(other, "drugs", by=manager)  # another project's names are its own

    assert error_codes(excinfo) == {"name": ["duplicate_name"]}
    assert "named 'drugs' already" in str(excinfo.value)
    assert SavedSearch.objects.filter(project=project).count() == 1
    assert SavedSearch.objects.get(project=project).filters == DISPUTED_DRUGS


@pytest.mark.parametrize(
    ("name", "filters", "codes"),
    [
        ("  ", DISPUTED_DRUGS, {"name": ["required"]}),
        ("x" * 101, DISPUTED_DRUGS, {"name": ["max_length"]}),
        ("odd", TranscriptFilters(status="lost"), {"status": ["invalid"]}),
    ],
)
def test_a_blank_or_long_name_or_unknown_status_is_refused(
    project, reviewer, name, filters, codes
):
    with pytest.raises(ValidationError) as excinfo:
        save(project, name, filters, by=reviewer)

    assert error_codes(excinfo) == codes
    assert not SavedSearch.objects.exists()


def test_a_search_with_no_filter_is_refused(project, reviewer):
    with pytest.raises(ValidationError) as excinfo:
        save(project, "everything", TranscriptFilters(), by=reviewer)

    assert excinfo.value.code == "empty"
    assert not SavedSearch.objects.exists()


def test_deleting_twice_deletes_once_and_leaves_the_others(project):
    gone, kept = SavedSearchFactory.create_batch(2, project=project)

    saved_search_delete(search=gone)
    saved_search_delete(search=gone)

    assert list(SavedSearch.objects.all()) == [kept]


def test_the_project_lists_only_its_own_searches_by_name(project):
    b = SavedSearchFactory(project=project, name="b")
    a = SavedSearchFactory(project=project, name="a")
    SavedSearchFactory(name="c")

    assert list(saved_searches_of(project)) == [a, b]


def test_another_projects_search_is_unknown_by_its_id(project):
    theirs = SavedSearchFactory()

    assert saved_search_of(project=theirs.project, search_id=theirs.pk) == theirs
    with pytest.raises(ValidationError) as excinfo:
        saved_search_of(project=project, search_id=theirs.pk)

    assert error_codes(excinfo) == {"saved_search": ["unknown"]}
    assert f"No saved search #{theirs.pk} in this project" in str(excinfo.value)


def test_an_archived_project_keeps_its_searches_as_they_are(project, reviewer):
    kept = SavedSearchFactory(project=project)
    Project.objects.filter(pk=project.pk).update(archived_at=NOW)
    project.refresh_from_db()

    with pytest.raises(ValidationError) as saving:
        save(project, "new", by=reviewer)
    with pytest.raises(ValidationError) as deleting:
        saved_search_delete(search=SavedSearch.objects.get())

    assert saving.value.code == deleting.value.code == "archived"
    assert list(SavedSearch.objects.all()) == [kept]
