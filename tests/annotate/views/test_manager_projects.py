"""The managers' project pages: create, settings (refusals and confirmations),
the guidelines preview, archive and unarchive, and the archived list."""

from __future__ import annotations

import pytest
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from annotate.models import Annotation, Membership, Project
from annotate.services.projects import project_archive
from tests.factories import ItemFactory, UserFactory, refusal_v1
from tests.labelling import claim, label, new_annotator

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def valid(**changes) -> dict[str, object]:
    return {
        "name": "Second eval",
        "label_set_version": refusal_v1().pk,
        "overlap": 2,
        "lease_minutes": 20,
        "extra_labels_max": 1,
        "disagreement_threshold": 0.35,
        "gold_method": "majority",
        "guidelines": "Read **every** turn.",
        "queue_strategy": "hybrid",
        "target_fields": "",
        "uncertainty": "margin",
        "weight_uncertainty": 1,
        "weight_relabel": 1,
        "weight_coverage": 0.5,
        "coverage_floor": 0.05,
        "started_bonus": 0.25,
        "exploration": 0.1,
        "retrain_every": 50,
        "retrain_rest_seconds": 120,
        "min_labels": 30,
        "seed": 0,
        "blind": "on",
        "flagged_cap": "",
        "flagged_window_hours": 4,
        **changes,
    }


def settings_of(project: Project, **changes) -> dict[str, object]:
    return valid(**{"name": project.name, "overlap": project.overlap, **changes})


# New project ----------------------------------------------------------------


def test_a_manager_creates_a_project_and_lands_on_it_as_its_manager(client, manager):
    client.force_login(manager)

    r = client.post("/projects/new/", valid())

    created = Project.objects.get(name="Second eval")
    assert r.status_code == 302
    assert r["Location"] == f"/projects/{created.pk}/"
    assert (created.overlap, created.extra_labels_max) == (2, 1)
    assert created.lease.total_seconds() == 20 * 60
    assert created.queue_settings["exploration"] == 0.1
    assert Membership.objects.get(project=created, user=manager).role == "manager"
    assertContains(client.get(r["Location"]), "Created Second eval.")


def test_the_care_settings_are_set_at_creation_and_shown_in_the_settings(
    client, manager
):
    client.force_login(manager)

    client.post("/projects/new/", valid(flagged_cap=3, flagged_window_hours=1.5))

    created = Project.objects.get(name="Second eval")
    assert (created.flagged_cap, created.flagged_window.total_seconds()) == (3, 5400)
    r = client.get(f"/projects/{created.pk}/settings/")
    assertContains(r, "Annotator care")
    assertContains(r, 'name="flagged_cap" value="3"')
    assertContains(r, 'name="flagged_window_hours" value="1.5"')


def test_a_window_out_of_range_is_an_error_on_its_field(client, manager):
    client.force_login(manager)

    r = client.post("/projects/new/", valid(flagged_cap=3, flagged_window_hours=0.1))

    assert r.context["form"].errors["flagged_window_hours"] == [
        "The window is from 10 minutes to 7 days."
    ]
    assert not Project.objects.filter(name="Second eval").exists()


def test_the_new_project_form_offers_the_label_sets_one_may_use(client, manager):
    client.force_login(manager)

    r = client.get("/projects/new/")

    assertTemplateUsed(r, "annotate/manager/project_form.html")
    assertContains(r, "refusal-v1 v1")
    assertContains(r, 'hx-post="/projects/guidelines-preview/"')
    assertContains(r, 'hx-trigger="input changed delay:400ms"')


def test_a_bad_project_shows_each_error_and_saves_nothing(client, project, manager):
    client.force_login(manager)

    r = client.post(
        "/projects/new/",
        valid(name=project.name, overlap=0, exploration=0.9, prelabels="on"),
    )

    assert r.status_code == 200
    assertContains(r, "Not saved.")
    assertContains(r, "Ensure this value is greater than or equal to 1.")
    assertContains(r, "Ensure this value is less than or equal to 0.5.")
    # In the form's words, not the stored names (blind=false).
    assertContains(r, "turn off “Blind labelling”")
    assert Project.objects.count() == 1


def test_an_unknown_target_field_is_named_with_the_ones_there_are(client, manager):
    client.force_login(manager)

    r = client.post("/projects/new/", valid(target_fields="refusal_type, notes"))

    assertContains(r, "notes: not a one-of field of refusal-v1 v1.")
    assertContains(r, "Refusal type (refusal_type)")
    assert not Project.objects.filter(name="Second eval").exists()


def test_a_taken_name_is_the_services_error_on_the_name(client, project, manager):
    client.force_login(manager)

    r = client.post("/projects/new/", valid(name=project.name))

    assertContains(r, f"A project named &#x27;{project.name}&#x27; already exists.")
    assert Project.objects.count() == 1


def test_preview_without_javascript_renders_the_guidelines_and_saves_nothing(
    client, manager
):
    client.force_login(manager)

    r = client.post("/projects/new/", valid(preview="yes"))

    assertContains(r, "<strong>every</strong>", html=False)
    assert not Project.objects.filter(name="Second eval").exists()


@pytest.mark.parametrize("persona", ["annotator", "reviewer", "outsider"])
def test_creating_projects_is_403_for_everyone_else(client, persona, request):
    client.force_login(request.getfixturevalue(persona))

    assertContains(
        client.get("/projects/new/"), "for project managers", status_code=403
    )
    assert client.post("/projects/new/", valid()).status_code == 403
    assert not Project.objects.filter(name="Second eval").exists()


def test_staff_create_projects(client, db):
    client.force_login(UserFactory(username="sam", is_staff=True))

    assert client.post("/projects/new/", valid()).status_code == 302


# Guidelines preview ---------------------------------------------------------


def test_the_guidelines_preview_is_the_sanitised_markdown_fragment(client, manager):
    client.force_login(manager)

    r = client.post(
        "/projects/guidelines-preview/",
        {"guidelines": "**Bold** <script>alert(1)</script> [x](javascript:alert(1))"},
        headers=HTMX,
    )

    assertTemplateUsed(r, "guidelines-preview")
    assert b"<html" not in r.content
    assertContains(r, "<strong>Bold</strong>", html=False)
    assertContains(r, "&lt;script&gt;")
    assertNotContains(r, "<script>", html=False)
    assertNotContains(r, "javascript:", html=False)


def test_the_guidelines_preview_is_post_only_and_for_managers(
    client, annotator, manager
):
    client.force_login(manager)
    assert client.get("/projects/guidelines-preview/").status_code == 405
    client.force_login(annotator)
    assert client.post("/projects/guidelines-preview/", {}).status_code == 403


# Settings -------------------------------------------------------------------


def test_settings_show_the_projects_values_and_save_a_change(client, project, manager):
    client.force_login(manager)
    url = f"/projects/{project.pk}/settings/"

    assertContains(client.get(url), f'value="{project.name}"')
    r = client.post(url, settings_of(project, name="Renamed"))

    assert r.status_code == 302
    assert Project.objects.get(pk=project.pk).name == "Renamed"


def test_raising_the_overlap_asks_first_and_saves_only_when_confirmed(
    client, project, manager, django_capture_on_commit_callbacks
):
    ItemFactory(project=project)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            label(new_annotator(project, f"ann{n}"), project, "policy")
    client.force_login(manager)
    url = f"/projects/{project.pk}/settings/"

    asked = client.post(url, settings_of(project, overlap=4))

    assert asked.status_code == 200
    assertContains(asked, "Nothing is saved yet.")
    assertContains(asked, "reopens 1 complete items")
    assertContains(asked, 'name="confirm" value="yes"')
    assert Project.objects.get(pk=project.pk).overlap == 3

    done = client.post(url, {**settings_of(project, overlap=4), "confirm": "yes"})

    assert done.status_code == 302
    assert Project.objects.get(pk=project.pk).overlap == 4


def test_a_change_that_would_break_labels_is_refused_with_the_reason(
    client, project, manager
):
    from labelsets.services import labelset_load

    other, _ = labelset_load(
        now=timezone.now(),
        data={
            "name": "tiny",
            "fields": [{"name": "ok", "kind": "single", "options": [{"value": "y"}]}],
        },
    )
    ItemFactory(project=project)
    label(new_annotator(project, "ann"), project, "policy")
    client.force_login(manager)

    r = client.post(
        f"/projects/{project.pk}/settings/",
        settings_of(project, label_set_version=other.pk, confirm="yes"),
    )

    assertContains(r, "The label set cannot change: 1 labels")
    assert Project.objects.get(pk=project.pk).label_set_version == refusal_v1()


def test_settings_are_for_the_projects_managers(
    client, project, annotator, reviewer, outsider
):
    url = f"/projects/{project.pk}/settings/"
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    for member in (annotator, reviewer):
        client.force_login(member)
        assertContains(client.get(url), "needs the manager role", status_code=403)
        assert client.post(url, settings_of(project, name="X")).status_code == 403
    assert not Project.objects.filter(name="X").exists()


# Archive --------------------------------------------------------------------


def test_archiving_makes_the_project_read_only_and_moves_it_off_home(
    client, project, manager
):
    client.force_login(manager)

    r = client.post(f"/projects/{project.pk}/archive/", follow=True)

    assert Project.objects.get(pk=project.pk).archived_at is not None
    assertContains(r, "is archived: read-only")
    assertNotContains(r, "Start labelling")
    assertNotContains(r, "Import transcripts")
    assertContains(r, "Unarchive")
    home = client.get("/")
    assertNotContains(home, f'href="/projects/{project.pk}/"')
    assertContains(home, "Archived projects (1)")
    assertContains(client.get("/projects/archived/"), project.name)


def test_the_labelling_screen_of_an_archived_project_says_so(
    client, project, annotator
):
    ItemFactory(project=project)
    project_archive(actor=None, project=project, now=timezone.now())
    client.force_login(annotator)

    r = client.get(f"/projects/{project.pk}/label/")

    assertContains(
        r, "is archived</strong>: it is read-only, so there is nothing to label"
    )
    assertNotContains(r, 'id="label-form"')


def test_a_submit_after_archiving_is_refused_with_the_reason(
    client, project, annotator
):
    ItemFactory(project=project)
    assignment = claim(annotator, project)
    project_archive(actor=None, project=project, now=timezone.now())
    client.force_login(annotator)

    r = client.post(
        f"/assignments/{assignment.pk}/submit/",
        {
            "request_harm": "harmful",
            "refusal_type": "none",
            "appropriateness": "under_refusal",
        },
        headers=HTMX,
    )

    assertContains(r, "is archived, so labels can no longer be submitted")
    assert not Annotation.objects.exists()


def test_imports_into_an_archived_project_are_refused_on_the_page(
    client, project, manager
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    project_archive(actor=None, project=project, now=timezone.now())
    client.force_login(manager)

    r = client.post(
        f"/projects/{project.pk}/import/",
        {"file": SimpleUploadedFile("t.jsonl", b'{"prompt": "Q", "response": "A"}\n')},
    )

    assertContains(r, "nothing can be imported into it")
    assert not project.jobs.exists()


def test_an_archived_projects_settings_cannot_change(client, project, manager):
    project_archive(actor=None, project=project, now=timezone.now())
    client.force_login(manager)
    url = f"/projects/{project.pk}/settings/"

    assertContains(client.get(url), "its settings cannot change until")
    r = client.post(url, settings_of(project, name="Renamed"))

    assertContains(r, "its settings cannot be changed")
    assert Project.objects.get(pk=project.pk).name == project.name


def test_unarchiving_opens_it_again(client, project, manager):
    project_archive(actor=None, project=project, now=timezone.now())
    client.force_login(manager)

    r = client.post(f"/projects/{project.pk}/unarchive/")

    assert r.status_code == 302
    assert Project.objects.get(pk=project.pk).archived_at is None


@pytest.mark.parametrize("action", ["archive", "unarchive"])
def test_archiving_is_post_only_and_for_managers(
    client, project, annotator, reviewer, outsider, manager, action
):
    url = f"/projects/{project.pk}/{action}/"
    client.force_login(outsider)
    assert client.post(url).status_code == 404
    for member in (annotator, reviewer):
        client.force_login(member)
        assert client.post(url).status_code == 403
    client.force_login(manager)
    assert client.get(url).status_code == 405
    assert Project.objects.get(pk=project.pk).archived_at is None


def test_the_archived_list_shows_only_ones_own(client, project, annotator):
    other = Project.objects.create(
        name="Not mine", label_set_version=refusal_v1(), created_at=timezone.now()
    )
    project_archive(actor=None, project=project, now=timezone.now())
    project_archive(actor=None, project=other, now=timezone.now())
    client.force_login(annotator)

    r = client.get("/projects/archived/")

    assertContains(r, project.name)
    assertNotContains(r, "Not mine")
    assert client.post("/projects/archived/").status_code == 405


def test_home_offers_the_workspace_to_managers_only(
    client, project, annotator, manager
):
    client.force_login(annotator)
    assertNotContains(client.get("/"), "New project")
    client.force_login(manager)
    home = client.get("/")
    assertContains(home, 'href="/projects/new/"')
    assertContains(home, 'href="/label-sets/"')
