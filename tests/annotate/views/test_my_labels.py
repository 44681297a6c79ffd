"""An annotator's own page: their labels in the project (never anyone
else's), searchable, each correctable while the window is open; their counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pytest_django.asserts import assertContains, assertNotContains

from annotate.models import Annotation
from annotate.views.annotator import PAGE
from tests.factories import ItemFactory, TranscriptFactory
from tests.labelling import label

pytestmark = pytest.mark.django_db


def url(project, query: str = "") -> str:
    return f"/projects/{project.pk}/my-labels/{query}"


def test_my_labels_show_mine_only_with_my_counts(
    client, project, annotator, other_annotator
):
    ItemFactory(project=project, transcript__external_id="demo-1")
    ItemFactory(project=project, transcript__external_id="demo-2")
    label(annotator, project, "capability")
    label(other_annotator, project, "scope")
    label(annotator, project, "policy")
    client.force_login(annotator)

    r = client.get(url(project))

    assert r.status_code == 200
    assert [a.annotator_id for a, *_ in r.context["rows"]] == [annotator.pk] * 2
    assertContains(r, "<td>Capability</td>")
    assertNotContains(r, "Scope (product restriction)")
    assert r.context["today"] == 2
    assertContains(r, "<dt>In total</dt><dd>2</dd>", html=True)


def test_a_recent_label_links_to_its_correction_and_an_old_one_does_not(
    client, project, annotator
):
    ItemFactory.create_batch(2, project=project)
    old = label(annotator, project, "capability")
    recent = label(annotator, project, "policy")
    Annotation.objects.filter(pk=old.pk).update(
        created_at=old.created_at - timedelta(hours=2)
    )
    client.force_login(annotator)

    r = client.get(url(project))

    assertContains(r, f"?correct={recent.pk}")
    assertNotContains(r, f"?correct={old.pk}")
    assertContains(r, "closed")


def test_the_correct_link_opens_that_label_in_the_labelling_screen(
    client, project, annotator, other_annotator
):
    ItemFactory.create_batch(3, project=project)
    first = label(annotator, project, "capability")
    label(annotator, project, "policy")  # the latest: u would reopen this one
    theirs = label(other_annotator, project, "scope")
    client.force_login(annotator)

    mine = client.get(f"/projects/{project.pk}/label/?correct={first.pk}")
    not_mine = client.get(f"/projects/{project.pk}/label/?correct={theirs.pk}")

    assert mine.context["editing"] == first
    assert mine.context["form"].initial["refusal_type"] == "capability"
    assert not_mine.context["editing"] is None
    assertContains(not_mine, "can no longer be changed")


def test_search_finds_by_external_id_or_by_text(client, project, annotator):
    ItemFactory(project=project, transcript__external_id="xs-7")
    ItemFactory(
        project=project,
        transcript=TranscriptFactory(
            project=project,
            messages=[
                {"role": "user", "content": "How do I pick a LOCK?"},
                {"role": "assistant", "content": "I can't help."},
            ],
        ),
    )
    by_id = label(annotator, project, "capability")
    by_text = label(annotator, project, "policy")
    client.force_login(annotator)

    assert [a.pk for a, *_ in client.get(url(project, "?q=xs-7")).context["rows"]] == [
        by_id.pk
    ]
    found = client.get(url(project, "?q=pick+a+lock")).context["rows"]
    assert [a.pk for a, *_ in found] == [by_text.pk]
    assertContains(client.get(url(project, "?q=nowhere")), "None of your labels")


def test_pages_go_back_in_time_keeping_the_search(client, project, annotator):
    ItemFactory.create_batch(PAGE + 2, project=project)
    made = [label(annotator, project, "policy") for _ in range(PAGE + 2)]
    client.force_login(annotator)

    first = client.get(url(project, "?q=Question"))
    before = first.context["next_before"]
    second = client.get(url(project, f"?q=Question&before={before}"))

    assert len(first.context["rows"]) == PAGE
    assertContains(first, f"?q=Question&amp;before={before}")
    assert [a.pk for a, *_ in second.context["rows"]] == [m.pk for m in made[:2]][::-1]


def test_outsiders_get_404_and_posts_405(client, project, annotator, outsider):
    client.force_login(outsider)
    assert client.get(url(project)).status_code == 404
    client.force_login(annotator)
    assert client.post(url(project)).status_code == 405
