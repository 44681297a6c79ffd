"""The transcript browser: search and filters in the query string, pages that
keep them, links by external id."""

from __future__ import annotations

import pytest
from django.db import connection
from pytest_django.asserts import assertContains, assertNotContains

from annotate.queries import SearchTooSlow
from annotate.views.review import PAGE
from tests.factories import ItemFactory, TranscriptFactory, disputed_items, items_bulk
from tests.labelling import label

pytestmark = pytest.mark.django_db


def url(project, query: str = "") -> str:
    return f"/projects/{project.pk}/transcripts/{query}"


def test_filters_narrow_the_list_and_each_row_says_its_status(
    client, project, reviewer
):
    ItemFactory(project=project, transcript__source_model="model-a")
    wanted = ItemFactory(
        project=project,
        transcript__source_model="model-b",
        transcript__dataset="xstest",
        transcript__external_id="xs-9",
    )
    client.force_login(reviewer)

    r = client.get(
        url(project, "?source_model=model-b&dataset=xstest&status=unlabelled")
    )

    assert [t.pk for t in r.context["transcripts"]] == [wanted.pk]
    assertContains(r, "<td>Unlabelled</td>", html=True)
    assertContains(r, 'value="model-b"')  # the form keeps what was asked
    assertContains(r, "xs-9")


def test_the_next_page_keeps_the_filters(client, project, reviewer):
    items = items_bulk(project, PAGE + 2)
    client.force_login(reviewer)

    first = client.get(url(project, "?text=bulk&status=unlabelled"))
    after = items[PAGE - 1].pk
    second = client.get(url(project, f"?text=bulk&status=unlabelled&after={after}"))

    assertContains(first, f"?text=bulk&amp;status=unlabelled&amp;after={after}")
    assert [t.pk for t in second.context["transcripts"]] == [i.pk for i in items[PAGE:]]


def test_a_value_without_its_metadata_key_is_named(client, project, reviewer):
    ItemFactory(project=project)
    client.force_login(reviewer)

    r = client.get(url(project, "?metadata_value=drugs"))

    assertContains(r, "Name the key the value is for.")
    assert r.context["transcripts"] == []


def test_a_search_stopped_for_time_says_how_to_narrow_it(
    client, project, reviewer, monkeypatch
):
    import annotate.views.review

    def too_slow(**_kwargs):
        raise SearchTooSlow

    monkeypatch.setattr(annotate.views.review, "transcripts_browse", too_slow)
    client.force_login(reviewer)

    r = client.get(url(project, "?text=lock"))

    assertContains(r, "took longer than 5 seconds and was stopped")


def test_disputed_lists_the_review_queue_and_the_detail_says_so(
    client, project, reviewer
):
    first, second = disputed_items(project, 2)
    ItemFactory(project=project)
    client.force_login(reviewer)

    listed = client.get(url(project, "?status=disputed"))
    detail = client.get(url(project, f"{first.pk}/"))

    assert [t.pk for t in listed.context["transcripts"]] == [first.pk, second.pk]
    assertContains(detail, "<dt>Status</dt><dd>Disputed (3 labels)</dd>", html=True)


def test_a_reviewers_own_item_shows_no_status(client, project, reviewer):
    ItemFactory(project=project)
    label(reviewer, project, "policy")
    client.force_login(reviewer)

    r = client.get(url(project))

    assertContains(r, "You label this item")
    assertNotContains(r, "<td>In progress</td>", html=True)


def test_a_link_by_external_id_opens_the_transcript(client, project, reviewer):
    item = ItemFactory(project=project, transcript__external_id="xs/12 b")
    client.force_login(reviewer)

    r = client.get(url(project, "by-id/xs/12%20b/"))

    assert r.status_code == 302
    assert r["Location"] == url(project, f"{item.pk}/")


def test_an_external_id_of_several_models_lists_them(client, project, reviewer):
    ItemFactory(project=project, transcript__external_id="xs-3")
    ItemFactory(
        project=project, transcript__external_id="xs-3", transcript__source_model="b"
    )
    client.force_login(reviewer)

    r = client.get(url(project, "by-id/xs-3/"))
    listed = client.get(r["Location"])

    assert r["Location"] == url(project, "?external_id=xs-3")
    assert len(listed.context["transcripts"]) == 2


def test_an_unknown_external_id_is_404(client, project, reviewer):
    TranscriptFactory(external_id="xs-4")  # another project's
    client.force_login(reviewer)

    assert client.get(url(project, "by-id/xs-4/")).status_code == 404


def test_annotators_get_403_outsiders_404_and_posts_405(
    client, project, annotator, outsider, reviewer
):
    ItemFactory(project=project, transcript__external_id="xs-5")
    pages = [url(project), url(project, "by-id/xs-5/")]
    client.force_login(annotator)
    assert [client.get(p).status_code for p in pages] == [403, 403]
    client.force_login(outsider)
    assert [client.get(p).status_code for p in pages] == [404, 404]
    client.force_login(reviewer)
    assert [client.post(p).status_code for p in pages] == [405, 405]


@pytest.mark.parametrize("rows", [3, 120])
def test_a_page_takes_a_fixed_number_of_queries(
    client, project, reviewer, rows, django_assert_max_num_queries
):
    items_bulk(project, rows)
    disputed_items(project, 2)
    client.force_login(reviewer)

    # Session, user, membership, the page, the import summaries, the saved
    # searches; on PostgreSQL a text search adds its savepoint, SET LOCAL
    # and release, and (inside the test's transaction) reading the timeout
    # before and putting it back after.
    with django_assert_max_num_queries(11 if connection.vendor == "postgresql" else 6):
        r = client.get(url(project, "?text=a&metadata_key=category&status=disputed"))
    with django_assert_max_num_queries(6):
        client.get(url(project))
    assert r.status_code == 200
