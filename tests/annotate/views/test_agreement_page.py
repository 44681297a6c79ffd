"""The agreement page: compute as a job, read the figures and charts, follow an annotator."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from annotate.models import Annotation, Job, Project
from tests.factories import ItemFactory, MembershipFactory, UserFactory

# transaction=True: the job runs (eagerly) when the request's transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true"}
LABELS = [
    ("policy", "appropriate_refusal"),
    ("none", "appropriate_compliance"),
    ("conditional", "appropriate_refusal"),
]


def labelled(project: Project, n_items: int = 6):
    """Three annotators label n items; the third disagrees on refusal_type."""
    coders = []
    for name in ("ann", "bea", "cy"):
        user = UserFactory(username=name)
        MembershipFactory(user=user, project=project)
        coders.append(user)
    now = timezone.now()
    rows = []
    for i in range(n_items):
        item = ItemFactory(project=project, slots_left=0)
        refusal, appropriateness = LABELS[i % 3]
        for c, coder in enumerate(coders):
            values: dict[str, object] = {
                "request_harm": "benign",
                "refusal_type": refusal if c < 2 else "capability",
                "appropriateness": appropriateness,
                "failure_modes": [],
            }
            if values["refusal_type"] != "none":
                values.update(acknowledge=4, explain=3, redirect=2, respect=5)
            else:
                values["appropriateness"] = "appropriate_compliance"
            rows.append(
                Annotation(
                    item=item,
                    annotator=coder,
                    label_set_version=project.label_set_version,
                    values=values,
                    client_uuid=uuid.uuid4(),
                    created_at=now,
                    updated_at=now,
                )
            )
    Annotation.objects.bulk_create(rows)
    Project.objects.filter(pk=project.pk).update(annotations_total=len(rows))
    return coders


def url(project: Project, query: str = "resamples=50") -> str:
    return f"/projects/{project.pk}/agreement/?{query}"


def test_reviewers_compute_the_figures_and_read_them(client, project, reviewer):
    coders = labelled(project)
    client.force_login(reviewer)

    before = client.get(url(project))
    computed = client.post(url(project), headers=HTMX)
    after = client.get(url(project))

    assertContains(before, "Not computed yet for these filters.")
    assert computed.status_code == 200
    assertContains(computed, 'id="agreement-status"')
    assertContains(computed, "Alpha per field")
    job = Job.objects.get(project=project, kind="agreement")
    assert job.status == "succeeded"
    assert job.params["resamples"] == 50
    assertContains(after, "Up to date.")
    assertContains(
        after, "<svg", count=2 + 3 + 1
    )  # alpha, coincidences, 3 kappas, weekly
    assertContains(after, "refusal_type (nominal)")
    assertContains(after, "Conditional (partial) <span")  # a per-class row
    for coder in coders:
        assertContains(after, f'href="/projects/{project.pk}/annotators/{coder.pk}/"')
    # cy disagrees on refusal_type: alpha rises without cy.
    assert after.context["annotator_rows"][2]["cells"][1]["drags"] is True
    assertNotContains(after, "<script>")  # no inline script, only our files


def test_new_labels_make_the_figures_stale(client, project, reviewer):
    labelled(project)
    client.force_login(reviewer)
    client.post(url(project), headers=HTMX)
    Project.objects.filter(pk=project.pk).update(annotations_total=19)

    page = client.get(url(project))

    assertContains(page, "The project has 19 labels now (18 then).")
    assertContains(page, "Recompute")


def test_without_htmx_the_post_redirects_back_to_the_page(client, project, manager):
    labelled(project)
    client.force_login(manager)

    r = client.post(url(project))

    assert r.status_code == 302
    assert r["Location"] == url(project)


def test_bad_filters_say_which_field_and_start_nothing(client, project, reviewer):
    client.force_login(reviewer)

    r = client.post(url(project, "since=2026-12-02&until=2026-12-01"), headers=HTMX)

    assertContains(r, "Must not be before the first day.")
    assert not Job.objects.exists()


def test_polling_a_running_job_shows_its_progress(client, project, reviewer):
    client.force_login(reviewer)
    params = {
        "filters": {
            "source_model": "",
            "dataset": "",
            "category": "",
            "since": None,
            "until": None,
            "annotators": [],
        },
        "resamples": 50,
        "seed": 0,
    }
    Job.objects.create(
        project=project,
        kind="agreement",
        params=params,
        status="running",
        stage="Computing alpha and intervals",
        created_at=timezone.now(),
    )

    r = client.get(url(project), headers=HTMX)

    assertContains(r, "Computing alpha and intervals")
    assertContains(r, 'hx-trigger="every 1s"')


def test_annotators_get_403_and_outsiders_404(client, project, annotator, outsider):
    client.force_login(annotator)
    assert client.get(url(project)).status_code == 403
    assert client.post(url(project)).status_code == 403
    client.force_login(outsider)
    assert client.get(url(project)).status_code == 404
    assert not Job.objects.exists()


def test_an_annotator_row_links_to_their_labels(client, project, reviewer, outsider):
    coders = labelled(project, n_items=2)
    client.force_login(reviewer)

    page = client.get(f"/projects/{project.pk}/annotators/{coders[2].pk}/")
    stranger = client.get(f"/projects/{project.pk}/annotators/{outsider.pk}/")

    assertContains(page, "Labels by cy")
    assertContains(page, "capability", count=2)
    assert stranger.status_code == 404
    client.force_login(outsider)
    assert (
        client.get(f"/projects/{project.pk}/annotators/{coders[2].pk}/").status_code
        == 404
    )


def test_an_unknown_annotator_in_the_filter_is_named(client, project, reviewer):
    client.force_login(reviewer)

    r = client.get(url(project, "annotators=nobody"))

    assertContains(r, "Not members of this project: nobody.")
    assertNotContains(r, "Not computed yet")
