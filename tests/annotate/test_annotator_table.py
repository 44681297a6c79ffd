"""queries.annotator_table: kept counters, skip reasons and last activity
read now; agreement, pace and accuracy from the latest report over all labels."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotate.models import Annotation, Assignment, Job, Membership
from annotate.queries import annotator_table
from annotate.services.agreement import Filters, agreement_params
from tests.factories import ItemFactory, ProjectFactory
from tests.labelling import claim, label, new_annotator

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def report_job(project, rows, *, filters=None, labels=0, finished=NOW):
    """A finished agreement job whose report has these per-annotator rows."""
    return Job.objects.create(
        project=project,
        kind="agreement",
        status="succeeded",
        params=agreement_params(filters=filters or Filters()),
        result={
            "key_field": "refusal_type",
            "single_fields": ["request_harm", "refusal_type", "appropriateness"],
            "counts": {"project_annotations": labels},
            "annotators": rows,
        },
        created_at=finished,
        finished_at=finished,
    )


def figures(user, *, agreement, median, decided=None):
    return {
        "id": user.pk,
        "username": user.username,
        "majority_agreement": {
            "refusal_type": {"share": agreement, "compared": 10},
            "request_harm": {"share": 0.01, "compared": 10},
        },
        "median_seconds": median,
        "gold_accuracy": {
            "field": "refusal_type",
            "decided": {"share": decided, "compared": 2 if decided is not None else 0},
            "aggregated": {"share": 0.9, "compared": 9},
        },
    }


@pytest.fixture
def team():
    project = ProjectFactory(overlap=1)
    ItemFactory.create_batch(6, project=project)
    ann, bob, cat = (new_annotator(project, n) for n in ("ann", "bob", "cat"))
    return project, ann, bob, cat


def by_name(table):
    return {r.member.user.username: r for r in table.rows}


def test_counts_today_and_in_total_come_from_the_kept_counters(team):
    project, ann, bob, _ = team
    label(ann, project, "policy")
    label(ann, project, "policy")
    label(bob, project, "policy")
    Membership.objects.filter(user=bob).update(today=NOW.date() - timedelta(days=1))

    rows = by_name(annotator_table(project=project, now=NOW))

    assert (rows["ann"].today, rows["ann"].total) == (2, 2)
    assert (rows["bob"].today, rows["bob"].total) == (0, 1)  # counted yesterday
    assert (rows["cat"].today, rows["cat"].total, rows["cat"].last_active) == (
        0,
        0,
        None,
    )


def test_skip_reasons_are_grouped_most_frequent_first(team):
    from annotate.services.queue import assignment_skip

    project, ann, bob, _ = team
    for reason in ("Not English", "", "Too long", "Not English"):
        assignment_skip(assignment=claim(ann, project), reason=reason, now=NOW)

    rows = by_name(annotator_table(project=project, now=NOW))

    assert rows["ann"].skips == 4
    assert rows["ann"].skip_reasons == [("Not English", 2), ("Too long", 1)]
    assert rows["bob"].skip_reasons == []


def test_last_active_is_the_latest_label_in_this_project(team):
    project, ann, _, _ = team
    label(ann, project, "policy")
    Annotation.objects.update(created_at=NOW - timedelta(hours=3))
    label(ann, project, "scope")
    latest = Annotation.objects.order_by("-pk")[0]
    Annotation.objects.filter(pk=latest.pk).update(created_at=NOW - timedelta(hours=1))
    elsewhere = ProjectFactory()
    ItemFactory(project=elsewhere)
    from tests.factories import MembershipFactory

    MembershipFactory(user=ann, project=elsewhere)
    label(ann, elsewhere, "policy")  # now, but in another project

    rows = by_name(annotator_table(project=project, now=NOW))

    assert rows["ann"].last_active == NOW - timedelta(hours=1)


def test_figures_come_from_the_latest_report_over_all_labels(team):
    project, ann, bob, cat = team
    report_job(project, [figures(ann, agreement=0.5, median=9.0)], finished=NOW)
    newest = report_job(
        project,
        [
            figures(ann, agreement=0.8, median=12.5, decided=0.5),
            figures(bob, agreement=0.6, median=4.0),
        ],
        labels=3,
        finished=NOW + timedelta(minutes=5),
    )
    # Newer still, but about one model's labels only: passed over.
    report_job(
        project,
        [figures(ann, agreement=0.1, median=1.0)],
        filters=Filters(source_model="model-b"),
        finished=NOW + timedelta(minutes=9),
    )
    project.annotations_total = 5

    table = annotator_table(project=project, now=NOW)
    rows = by_name(table)

    assert table.report == newest
    assert (table.field, table.labels_since, table.has_pace) == (
        "refusal_type",
        2,
        True,
    )
    assert (rows["ann"].agreement, rows["ann"].agreement_compared) == (0.8, 10)
    assert rows["ann"].median_seconds == 12.5
    assert (rows["ann"].accuracy_decided, rows["ann"].accuracy_decided_compared) == (
        0.5,
        2,
    )
    assert rows["ann"].accuracy_aggregated == 0.9
    assert rows["bob"].accuracy_decided is None
    assert not rows["cat"].in_report
    assert (rows["cat"].agreement, rows["cat"].median_seconds) == (None, None)


def test_without_a_report_the_figures_are_absent_not_zero(team):
    project, *_ = team

    table = annotator_table(project=project, now=NOW)

    assert table.report is None
    assert {r.agreement for r in table.rows} == {None}
    assert {r.median_seconds for r in table.rows} == {None}


@pytest.mark.parametrize("descending", [False, True])
def test_sorting_puts_members_without_the_figure_last_either_way(team, descending):
    project, ann, bob, cat = team
    report_job(
        project,
        [
            figures(ann, agreement=0.8, median=3.0),
            figures(bob, agreement=0.6, median=7.0),
        ],
    )

    rows = annotator_table(
        project=project, now=NOW, sort="median_seconds", descending=descending
    ).rows

    names = [r.member.user.username for r in rows]
    assert names == (["bob", "ann", "cat"] if descending else ["ann", "bob", "cat"])


def test_sorting_by_total_and_by_name(team):
    project, ann, bob, cat = team
    label(bob, project, "policy")
    label(bob, project, "policy")
    label(cat, project, "policy")

    most = annotator_table(project=project, now=NOW, sort="total", descending=True)
    names = annotator_table(project=project, now=NOW, sort="annotator", descending=True)

    assert [r.member.user.username for r in most.rows] == ["bob", "cat", "ann"]
    assert [r.member.user.username for r in names.rows] == ["cat", "bob", "ann"]


def test_a_live_claim_is_not_a_skip(team):
    project, ann, *_ = team
    claim(ann, project)

    rows = by_name(annotator_table(project=project, now=NOW))

    assert rows["ann"].skips == 0
    assert Assignment.objects.get().status == "live"
