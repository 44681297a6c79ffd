from __future__ import annotations

import pytest
from pytest_django.asserts import assertContains, assertNotContains

from annotate.views.review import PAGE
from tests.factories import ItemFactory, TranscriptFactory
from tests.labelling import claim, label

pytestmark = pytest.mark.django_db

EVIL = "<script>alert(1)</script><img src=x onerror=alert(1)>"


def test_reviewers_browse_transcripts_a_page_at_a_time(client, project, reviewer):
    items = ItemFactory.create_batch(PAGE + 3, project=project)
    client.force_login(reviewer)

    first = client.get(f"/projects/{project.pk}/transcripts/")
    after = items[PAGE - 1].transcript.pk
    second = client.get(f"/projects/{project.pk}/transcripts/?after={after}")

    assert first.status_code == 200
    assert len(first.context["transcripts"]) == PAGE
    assertContains(first, f"?after={after}")
    assert [t.pk for t in second.context["transcripts"]] == [
        i.transcript.pk for i in items[PAGE:]
    ]
    assert second.context["next_after"] is None


def test_the_transcript_page_shows_the_conversation_escaped(client, project, reviewer):
    transcript = TranscriptFactory(
        project=project,
        messages=[
            {"role": "system", "content": "You are a bank bot."},
            {"role": "user", "content": EVIL},
            {"role": "assistant", "content": "I can't help with that."},
        ],
        metadata={"category": "<b>x</b>"},
    )
    client.force_login(reviewer)

    r = client.get(f"/projects/{project.pk}/transcripts/{transcript.pk}/")

    assertContains(r, "System prompt")
    assertContains(r, "You are a bank bot.")
    assertContains(r, "&lt;script&gt;alert(1)&lt;/script&gt;")
    assertNotContains(r, "<script>alert(1)")
    assertNotContains(r, "<img src=x")
    assertNotContains(r, "<b>x</b>")


def test_annotators_may_not_browse_transcripts(client, project, annotator):
    transcript = TranscriptFactory(project=project)
    client.force_login(annotator)

    assert client.get(f"/projects/{project.pk}/transcripts/").status_code == 403
    assert (
        client.get(f"/projects/{project.pk}/transcripts/{transcript.pk}/").status_code
        == 403
    )


def test_outsiders_get_404_and_other_projects_transcripts_are_404(
    client, project, reviewer, outsider
):
    elsewhere = TranscriptFactory()
    client.force_login(reviewer)
    assert (
        client.get(f"/projects/{project.pk}/transcripts/{elsewhere.pk}/").status_code
        == 404
    )

    client.force_login(outsider)
    assert client.get(f"/projects/{project.pk}/transcripts/").status_code == 404


def test_every_member_sees_the_label_set_with_hotkeys_and_rules(
    client, project, annotator
):
    client.force_login(annotator)

    r = client.get(f"/projects/{project.pk}/labels/")

    assertContains(r, "refusal-v1 v1")
    assertContains(r, "<code>refusal_type</code>", html=False)
    assertContains(r, "sycophantic_capitulation")
    assertContains(r, "<kbd>1</kbd>", html=False)
    assertContains(r, "Consistency rules")


def test_guidelines_render_as_sanitised_markdown(client, project, annotator):
    project.guidelines = (
        "# Rules\n\n**Bold** [ok](https://example.org) [bad](javascript:alert(1))\n\n"
        "<script>alert(1)</script><img src=x onerror=alert(1)>"
    )
    project.save()
    client.force_login(annotator)

    r = client.get(f"/projects/{project.pk}/labels/")

    assertContains(r, "<strong>Bold</strong>", html=False)
    assertContains(r, 'href="https://example.org"', html=False)
    assertNotContains(r, "javascript:")
    assertNotContains(r, "<script>alert")
    assertNotContains(r, "<img")
    # Raw HTML is shown as text, so a reader sees what was written.
    assertContains(
        r, "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    )


def test_an_annotators_labels_show_option_labels_and_external_ids(
    client, project, reviewer, annotator
):
    item = ItemFactory(project=project, transcript__external_id="demo-0125")
    label(annotator, project, "capability")
    client.force_login(reviewer)

    r = client.get(f"/projects/{project.pk}/annotators/{annotator.pk}/")

    assertContains(
        r, f'href="/projects/{project.pk}/transcripts/{item.pk}/">demo-0125<'
    )
    assertContains(r, "<td>Capability</td>")
    assertContains(r, "<td>Harmful</td><td>Capability</td><td>Appropriate refusal</td>")
    assertNotContains(r, "appropriate_refusal")


def test_an_annotators_labels_are_searchable(client, project, reviewer, annotator):
    ItemFactory(project=project, transcript__external_id="xs-1")
    ItemFactory(project=project, transcript__external_id="xs-2")
    label(annotator, project, "capability")
    second = label(annotator, project, "policy")
    client.force_login(reviewer)

    r = client.get(f"/projects/{project.pk}/annotators/{annotator.pk}/?q=xs-2")

    assert [a.pk for a, _ in r.context["rows"]] == [second.pk]
    assertContains(r, f'href="/projects/{project.pk}/annotators/"')  # back to the table


def test_a_reviewer_never_sees_others_labels_of_an_item_they_label(
    client, project, annotator
):
    from tests.factories import MembershipFactory, UserFactory

    project.overlap = 2
    project.save()
    shared, claimed, other = ItemFactory.create_batch(3, project=project)
    rex = UserFactory(username="rex")
    MembershipFactory(user=rex, project=project, role="reviewer")
    for _ in range(3):
        label(annotator, project, "capability")
    label(rex, project, "policy")  # rex labels the first item too...
    claim(rex, project)  # ...and holds a claim on the second
    client.force_login(rex)

    theirs = client.get(f"/projects/{project.pk}/annotators/{annotator.pk}/")
    mine = client.get(f"/projects/{project.pk}/annotators/{rex.pk}/")

    assert [a.item_id for a, _ in theirs.context["rows"]] == [other.pk]
    assertContains(theirs, "Items you labelled or hold a claim on are left out")
    assert [a.item_id for a, _ in mine.context["rows"]] == [shared.pk]
    assertNotContains(mine, "are left out")
