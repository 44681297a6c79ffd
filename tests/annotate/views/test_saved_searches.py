"""Saved searches on the transcript browser: saved from its filters, listed
as links that apply them, deleted."""

from __future__ import annotations

import pytest
from django.utils import timezone
from pytest_django.asserts import (
    assertContains,
    assertNotContains,
    assertTemplateUsed,
)

from annotate.models import Project, SavedSearch
from tests.factories import ItemFactory, SavedSearchFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
FILTERS = {"source_model": "model-b", "status": "unlabelled"}


def url(project, rest: str = "") -> str:
    return f"/projects/{project.pk}/transcripts/{rest}"


def new_url(project) -> str:
    return url(project, "searches/")


def delete_url(search) -> str:
    return url(search.project, f"searches/{search.pk}/delete/")


def test_the_browser_lists_the_projects_searches_as_links_that_apply_them(
    client, project, reviewer
):
    ItemFactory(project=project, transcript__source_model="model-a")
    wanted = ItemFactory(project=project, transcript__source_model="model-b")
    search = SavedSearchFactory(project=project, name="b only", **FILTERS)
    SavedSearchFactory(name="not ours")
    client.force_login(reviewer)

    page = client.get(url(project))
    applied = client.get(url(project, f"?{search.filters.query}"))

    link = f'href="/projects/{project.pk}/transcripts/?source_model=model-b&amp;status=unlabelled"'
    assertContains(page, link)
    assertContains(page, "b only")
    assertNotContains(page, "not ours")
    assert [t.pk for t in applied.context["transcripts"]] == [wanted.pk]


def test_the_save_form_carries_the_filters_only_when_something_is_filtered(
    client, project, reviewer
):
    client.force_login(reviewer)

    unfiltered = client.get(url(project))
    filtered = client.get(url(project, "?source_model=model-b&status=unlabelled"))

    assertNotContains(unfiltered, "Save this search as")
    assertContains(filtered, "Save this search as")
    assertContains(
        filtered,
        '<input type="hidden" name="source_model" value="model-b" id="save_source_model">',
        html=True,
    )
    assertContains(filtered, 'id="id_source_model"', count=1)  # ids kept apart


@pytest.mark.parametrize("role", ["reviewer", "manager"])
def test_saving_with_htmx_lists_the_search_in_place(client, project, role, request):
    user = request.getfixturevalue(role)
    client.force_login(user)

    r = client.post(new_url(project), {**FILTERS, "name": "b only"}, headers=HTMX)

    assert r.status_code == 200
    assertTemplateUsed(r, "saved-searches")
    assertNotContains(r, "<table")  # the section, not the page
    assertContains(r, "Saved “b only”.")
    search = SavedSearch.objects.get()
    assert (search.name, search.created_by, search.filters.query) == (
        "b only",
        user,
        "source_model=model-b&status=unlabelled",
    )


def test_saving_without_javascript_redirects_to_the_search(client, project, reviewer):
    client.force_login(reviewer)

    r = client.post(new_url(project), {**FILTERS, "name": "b only"})

    assert r.status_code == 302
    assert r["Location"] == url(project, "?source_model=model-b&status=unlabelled")


def test_a_taken_name_is_a_field_error_and_saves_nothing(client, project, reviewer):
    SavedSearchFactory(project=project, name="b only", dataset="xstest")
    client.force_login(reviewer)

    r = client.post(new_url(project), {**FILTERS, "name": "b only"}, headers=HTMX)

    assert r.status_code == 200
    assert r.context["save_form"].errors["name"] == [
        "This project has a saved search named 'b only' already: choose another name."
    ]
    assert SavedSearch.objects.count() == 1


def test_a_name_is_required(client, project, reviewer):
    client.force_login(reviewer)

    r = client.post(new_url(project), {**FILTERS, "name": " "}, headers=HTMX)

    assert r.context["save_form"].errors["name"] == ["This field is required."]
    assert not SavedSearch.objects.exists()


def test_without_javascript_a_refused_save_shows_the_page_with_its_error(
    client, project, reviewer
):
    SavedSearchFactory(project=project, name="b only")
    client.force_login(reviewer)

    r = client.post(new_url(project), {**FILTERS, "name": "b only"})

    assert r.status_code == 200
    assertContains(r, "<table")
    assertContains(r, "named &#x27;b only&#x27; already")
    assert r.context["form"].filters().source_model == "model-b"


def test_deleting_removes_the_row_or_redirects_without_javascript(
    client, project, reviewer, manager
):
    first, second = SavedSearchFactory.create_batch(2, project=project)
    client.force_login(reviewer)
    r = client.post(delete_url(first), headers=HTMX)
    client.force_login(manager)
    plain = client.post(delete_url(second))

    assert (r.status_code, r.content) == (200, b"")
    assert plain.status_code == 302
    assert plain["Location"] == url(project)
    assert not SavedSearch.objects.exists()


def test_another_projects_search_is_404_to_delete(client, project, reviewer):
    theirs = SavedSearchFactory()
    client.force_login(reviewer)

    r = client.post(f"/projects/{project.pk}/transcripts/searches/{theirs.pk}/delete/")

    assert r.status_code == 404
    assert SavedSearch.objects.filter(pk=theirs.pk).exists()


def test_outsiders_get_404_annotators_403_and_gets_405(
    client, project, annotator, outsider, reviewer
):
    search = SavedSearchFactory(project=project)
    posts = [new_url(project), delete_url(search)]
    data = {**FILTERS, "name": "x"}
    client.force_login(outsider)
    assert [client.post(p, data).status_code for p in posts] == [404, 404]
    client.force_login(annotator)
    assert [client.post(p, data).status_code for p in posts] == [403, 403]
    client.force_login(reviewer)
    assert [client.get(p).status_code for p in posts] == [405, 405]
    assert list(SavedSearch.objects.all()) == [search]


def test_in_an_archived_project_delete_reloads_the_page_with_why(
    client, project, reviewer
):
    search = SavedSearchFactory(project=project)
    Project.objects.filter(pk=project.pk).update(archived_at=timezone.now())
    client.force_login(reviewer)

    r = client.post(delete_url(search), headers=HTMX)
    saved = client.post(new_url(project), {**FILTERS, "name": "new"}, headers=HTMX)

    assert (r.status_code, r["HX-Refresh"]) == (200, "true")
    assertContains(client.get(url(project)), "is archived, so its saved searches")
    assertContains(saved, "is archived, so no search can be saved in it")
    assert list(SavedSearch.objects.all()) == [search]
