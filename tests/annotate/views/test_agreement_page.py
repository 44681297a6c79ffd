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
    # In the words of the labelling screen: option labels, not stored values.
    assertContains(page, "<td>Capability</td>", count=2)
    assertNotContains(page, "capability")
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


def test_the_page_shows_fleiss_kappa_beside_alpha(client, project, reviewer):
    labelled(project)
    client.force_login(reviewer)
    client.post(url(project), headers=HTMX)

    page = client.get(url(project))

    fields = {f["name"]: f for f in page.context["report"]["fields"]}
    # 6 items x 3 labels: two agree, cy always says "capability". P = 1/3,
    # P_e = 3 (4/18)^2 + (6/18)^2 = 21/81, kappa = (1/3 - 21/81) / (60/81) = 0.1.
    assert fields["refusal_type"]["fleiss"]["kappa"] == pytest.approx(0.1)
    assertContains(page, '<p class="fleiss">', count=3)  # the three one-of fields
    assertContains(
        page, "Fleiss' kappa: <strong>0.100</strong> on 6 items with 3 labels each."
    )
    # request_harm: everyone says "benign", so kappa is 0 / 0.
    assertContains(page, "<strong>—</strong> (undefined: one value throughout)")


def test_pairs_below_20_shared_items_show_their_kappa_marked(client, project, reviewer):
    labelled(project)  # every pair shares 6 items
    client.force_login(reviewer)
    client.post(url(project), headers=HTMX)

    page = client.get(url(project))

    kappas = {k["field"]: k for k in page.context["kappas"]}
    texts = [(c.text, c.note) for c in kappas["refusal_type"]["map"].cells]
    # ann and bea agree throughout; cy gives one label only, kappa 0.
    assert texts == [
        ("—", ""),
        ("1.00†", "n=6"),
        ("0.00†", "n=6"),
        ("1.00†", "n=6"),
        ("—", ""),
        ("0.00†", "n=6"),
        ("0.00†", "n=6"),
        ("0.00†", "n=6"),
        ("—", ""),
    ]
    assertContains(page, "1.00†")
    assertContains(page, "n=6")
    assertContains(page, "† fewer than 20 shared items: unreliable")


def test_a_report_stored_before_fleiss_and_all_pairs_still_renders(
    client, project, reviewer
):
    labelled(project)
    client.force_login(reviewer)
    client.post(url(project), headers=HTMX)
    job = Job.objects.get(project=project, kind="agreement")
    for field in job.result["fields"]:
        field.pop("fleiss")
        field.pop("scale_values", None)
    for kappa in job.result["kappa"].values():
        del kappa["all_pairs"], kappa["min_shared"]
    job.save(update_fields=["result"])

    page = client.get(url(project))

    assertNotContains(page, '<p class="fleiss">')
    assertNotContains(page, "†")
    assertContains(page, "Pairs with fewer than 20 shared items show a dash", count=3)
