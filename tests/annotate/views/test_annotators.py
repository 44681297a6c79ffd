"""The annotator table: every member's counts and figures, sortable by any
column (htmx swaps the table), each row linking to that annotator's labels."""

from __future__ import annotations

import pytest
from pytest_django.asserts import assertContains, assertNotContains

from annotate.models import Membership
from tests.factories import ItemFactory
from tests.labelling import claim, label, new_annotator, submit
from tests.labelling import labels as values_for

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def url(project, query: str = "") -> str:
    return f"/projects/{project.pk}/annotators/{query}"


@pytest.fixture
def compute(django_capture_on_commit_callbacks):
    """Compute the agreement report over all labels, as Recompute does."""

    def run(client, project):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(f"/projects/{project.pk}/agreement/?resamples=0")

    return run


@pytest.fixture
def team(project):
    project.overlap = 2
    project.save()
    ItemFactory.create_batch(3, project=project)
    ann, bob = new_annotator(project, "ann"), new_annotator(project, "bob")
    for refusal_type in ("policy", "scope", "policy"):
        label(ann, project, refusal_type)
    label(bob, project, "policy")
    return project, ann, bob


def test_a_manager_sees_every_member_linked_to_their_labels(client, team, manager):
    project, ann, bob = team
    client.force_login(manager)

    r = client.get(url(project))

    assert r.status_code == 200
    assertContains(r, f'href="/projects/{project.pk}/annotators/{ann.pk}/">ann</a>')
    assertContains(r, f'href="/projects/{project.pk}/annotators/{bob.pk}/">bob</a>')
    assertContains(r, "none yet")  # no agreement report, so no figures
    assertContains(r, f'action="/projects/{project.pk}/agreement/"')
    assert [row.member.user.username for row in r.context["table"].rows] == [
        "ann",
        "bob",
        "mona",
    ]


def test_sorting_by_a_column_swaps_the_table_and_offers_the_reverse(
    client, team, reviewer
):
    project, *_ = team
    client.force_login(reviewer)

    r = client.get(url(project, "?sort=-total"), headers=HTMX)

    assertContains(r, 'id="annotator-table"')
    assertNotContains(r, "<h1>")
    assertContains(r, 'aria-sort="descending"')
    assertContains(r, 'id="sort-total" href="?sort=total"')
    assertContains(r, 'hx-push-url="true"')
    names = [row.member.user.username for row in r.context["table"].rows]
    assert names[:2] == ["ann", "bob"]  # 3 labels, then 1
    assert r.context["table"].rows[0].total == 3


def test_an_unknown_sort_falls_back_to_the_names(client, team, reviewer):
    project, *_ = team
    client.force_login(reviewer)

    r = client.get(url(project, "?sort=password"))

    assert r.status_code == 200
    assertContains(r, 'aria-sort="ascending"')


def test_the_agreement_report_fills_the_figures(client, team, manager, compute):
    project, ann, bob = team
    client.force_login(manager)
    compute(client, project)

    r = client.get(url(project))

    rows = {row.member.user.username: row for row in r.context["table"].rows}
    assert r.context["table"].report is not None
    assert rows["ann"].median_seconds == 3.0
    assert rows["ann"].agreement_compared == 1  # the one item bob labelled too
    assertContains(r, "Recompute")


def test_annotators_get_403_outsiders_404_and_posts_405(
    client, team, annotator, outsider, manager
):
    project, *_ = team
    client.force_login(annotator)
    assert client.get(url(project)).status_code == 403
    client.force_login(outsider)
    assert client.get(url(project)).status_code == 404
    client.force_login(manager)
    assert client.post(url(project)).status_code == 405


def test_the_table_takes_a_fixed_number_of_queries(
    client, project, manager, compute, django_assert_max_num_queries
):
    project.overlap = 1
    project.save()
    ItemFactory.create_batch(30, project=project)
    members = [new_annotator(project, f"a{i}") for i in range(10)]
    for i, user in enumerate(members):
        submit(claim(user, project), values_for("policy"))
        if i % 2:
            from annotate.services.queue import assignment_skip
            from tests.labelling import NOW

            assignment_skip(assignment=claim(user, project), reason=f"r{i}", now=NOW)
    client.force_login(manager)
    compute(client, project)

    # Session, user, membership, members, skip reasons, two for the report.
    with django_assert_max_num_queries(7):
        r = client.get(url(project, "?sort=-agreement"))
    assert len(r.context["table"].rows) == 11


def test_accuracy_on_gold_questions_comes_from_the_kept_counters(client, team, manager):
    project, ann, _ = team
    Membership.objects.filter(project=project, user=ann).update(
        checks_total=8, checks_correct=6
    )
    client.force_login(manager)

    r = client.get(url(project), {"sort": "-accuracy_questions"})

    assertContains(r, "Accuracy: gold questions")
    assertContains(r, '75% <span class="muted">of 8</span>')
    assert r.context["table"].rows[0].member.user == ann
