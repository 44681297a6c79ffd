"""The managers' assignment page."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from annotate.models import Allocation, Assignment, Batch, Membership
from annotate.queries import SearchTooSlow
from tests.factories import ItemFactory, SavedSearchFactory
from tests.labelling import member

pytestmark = pytest.mark.django_db


def url(project, rest: str = "") -> str:
    return f"/projects/{project.pk}/assignments/{rest}"


def test_the_page_is_for_managers(
    client, project, manager, reviewer, annotator, outsider
):
    client.force_login(outsider)
    assert client.get(url(project)).status_code == 404
    for user in (annotator, reviewer):
        client.force_login(user)
        assertContains(
            client.get(url(project)), "needs the manager role", status_code=403
        )
    client.force_login(manager)
    assertContains(client.get(url(project)), "Assign a batch")
    for rest in ("batches/", "move/", f"quotas/{manager.pk}/"):
        assert client.get(url(project, rest)).status_code == 405
    client.force_login(outsider)
    for rest in ("batches/", "move/", f"quotas/{manager.pk}/"):
        assert client.post(url(project, rest)).status_code == 404


def test_a_manager_assigns_a_batch_and_sees_its_progress(
    client, project, manager, annotator
):
    ItemFactory.create_batch(3, project=project, transcript__source_model="m1")
    ItemFactory(project=project, transcript__source_model="m2")
    client.force_login(manager)

    preview = client.get(url(project, "preview/"), {"source_model": "m1"})
    r = client.post(
        url(project, "batches/"),
        {
            "source_model": "m1",
            "annotators": [annotator.username],
            "mode": "each",
            "name": "first",
        },
    )

    assertContains(preview, "3 open items match")
    batch = Batch.objects.get()
    assert r.status_code == 302
    assert r["Location"] == url(project, f"batches/{batch.pk}/")
    assert Allocation.objects.filter(annotator=annotator).count() == 3
    page = client.get(r["Location"])
    assertContains(page, "first")
    assertContains(page, f"{annotator.username}: 0 of 3")


def test_assigning_to_someone_deactivated_shows_the_error_and_saves_nothing(
    client, project, manager, annotator
):
    ItemFactory(project=project)
    Membership.objects.filter(user=annotator).update(is_active=False)
    client.force_login(manager)

    r = client.post(
        url(project, "batches/"), {"annotators": [annotator.username], "mode": "each"}
    )

    # Deactivated members are no choice at all.
    assertContains(r, "Select a valid choice")
    assert not Batch.objects.exists()


def test_a_quota_is_saved_in_place_and_one_below_todays_labels_refused(
    client, project, manager, annotator
):
    client.force_login(manager)
    quota_url = url(project, f"quotas/{annotator.pk}/")
    prefix = f"q{annotator.pk}"

    saved = client.post(
        quota_url,
        {f"{prefix}-quota_day": "5", f"{prefix}-quota_total": ""},
        headers={"HX-Request": "true"},
    )
    Membership.objects.filter(user=annotator).update(
        today=timezone.now().date(), today_count=7
    )
    refused = client.post(
        quota_url,
        {f"{prefix}-quota_day": "3", f"{prefix}-quota_total": ""},
        headers={"HX-Request": "true"},
    )

    assertContains(saved, f'id="quota-{annotator.pk}"')
    assertNotContains(saved, 'role="alert"')
    assertContains(
        refused, "has labelled 7 items today; a daily quota must be at least 7"
    )
    assert member(annotator, project).quota_day == 5


def test_the_labelling_screen_says_when_the_quota_is_reached(
    client, project, annotator
):
    ItemFactory(project=project)
    Membership.objects.filter(user=annotator).update(quota_total=0)
    client.force_login(annotator)

    page = client.get(f"/projects/{project.pk}/label/")

    assertContains(page, "You have labelled your quota of 0 items in this project.")


def test_the_submit_that_reaches_the_quota_ends_the_queue_on_the_screen(
    client, project, annotator
):
    ItemFactory.create_batch(3, project=project)
    Membership.objects.filter(user=annotator).update(quota_total=1)
    client.force_login(annotator)
    client.get(f"/projects/{project.pk}/label/")
    claim = Assignment.objects.get(annotator=annotator, status="live")
    labels = {
        "request_harm": "benign",
        "refusal_type": "none",
        "appropriateness": "appropriate_compliance",
        "client_uuid": str(uuid.uuid4()),
    }

    r = client.post(
        f"/assignments/{claim.pk}/submit/", labels, headers={"HX-Request": "true"}
    )

    # The membership the view claims with was loaded before the submit.
    assertContains(r, "You have labelled your quota of 1 items in this project.")
    assert not Assignment.objects.filter(annotator=annotator, status="live").exists()


def test_a_batch_by_saved_search_says_so_on_its_page(
    client, project, manager, annotator
):
    wanted = ItemFactory(project=project, transcript__dataset="xstest")
    ItemFactory(project=project)
    search = SavedSearchFactory(project=project, name="xstest", dataset="xstest")
    SavedSearchFactory(name="not ours")
    client.force_login(manager)

    page = client.get(url(project))
    preview = client.get(url(project, "preview/"), {"saved_search": search.pk})
    r = client.post(
        url(project, "batches/"),
        {"saved_search": search.pk, "annotators": [annotator.username], "mode": "each"},
    )

    assertContains(page, f'<option value="{search.pk}">xstest</option>', html=True)
    assertNotContains(page, "not ours")
    assertContains(preview, "1 open item matches")
    assert [a.item_id for a in Allocation.objects.all()] == [wanted.pk]
    assertContains(client.get(r["Location"]), "Selected by the saved search “xstest”.")


def test_another_projects_saved_search_is_named_in_the_form_and_the_preview(
    client, project, manager, annotator
):
    ItemFactory(project=project)
    theirs = SavedSearchFactory()
    client.force_login(manager)

    preview = client.get(url(project, "preview/"), {"saved_search": theirs.pk})
    r = client.post(
        url(project, "batches/"),
        {"saved_search": theirs.pk, "annotators": [annotator.username], "mode": "each"},
    )

    message = f"No saved search #{theirs.pk} in this project"
    assertContains(preview, message)
    assert message in r.context["batch_form"].errors["saved_search"][0]
    assert not Batch.objects.exists()


def test_a_saved_text_search_out_of_time_is_a_form_error(
    client, project, manager, annotator, monkeypatch
):
    import annotate.services.assignments

    def too_slow(**_kwargs):
        raise SearchTooSlow

    monkeypatch.setattr(annotate.services.assignments, "search_deadline", too_slow)
    ItemFactory(project=project)
    search = SavedSearchFactory(project=project, text="lock")
    client.force_login(manager)

    preview = client.get(url(project, "preview/"), {"saved_search": search.pk})
    r = client.post(
        url(project, "batches/"),
        {"saved_search": search.pk, "annotators": [annotator.username], "mode": "each"},
    )

    assertContains(preview, "took longer than 5 seconds and was stopped")
    assertContains(r, "took longer than 5 seconds and was stopped")
    assert not Batch.objects.exists()
