"""The History page: managers read who changed what, in the screens' words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from annotate.models import AuditAction, AuditEntry, Membership, Role
from annotate.services.members import membership_role_set
from annotate.services.queue import annotation_update
from annotate.views import history
from tests.annotate.services.test_projects import update
from tests.factories import ItemFactory
from tests.labelling import NOW, claim, labels, submit

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def page(project) -> str:
    return f"/projects/{project.pk}/history/"


def role_change(project, manager, user, role: Role) -> None:
    membership_role_set(
        membership=Membership.objects.get(user=user, project=project),
        role=role,
        actor=manager,
        now=NOW,
    )


def actions(response) -> list[str]:
    return [entry.action for entry, _ in response.context["rows"]]


def test_a_manager_sees_a_role_change_in_the_screens_words(
    client, project, manager, annotator
):
    role_change(project, manager, annotator, Role.REVIEWER)
    client.force_login(manager)

    r = client.get(page(project))

    assertTemplateUsed(r, "annotate/manager/history.html")
    assertContains(r, "Role changed")
    assertContains(r, "<td>Annotator</td>", html=True)  # the label, not "annotator"
    assertContains(r, "<td>Reviewer</td>", html=True)
    assertContains(r, "<td>mona</td>", html=True)  # who: the manager


def test_settings_show_the_forms_labels_and_durations_in_words(
    client, project, manager
):
    update(project, lease=timedelta(minutes=45), gold_method="weighted")
    client.force_login(manager)

    r = client.get(page(project))

    assertContains(r, "Claim lease")
    assertContains(r, "30 minutes")
    assertContains(r, "45 minutes")
    assertContains(r, "Weighted by each annotator")
    assertNotContains(r, ">weighted<")
    assertContains(r, "the system")  # a change with no actor


def test_a_hostile_name_is_escaped(client, project, manager):
    update(project, name="<script>alert(1)</script>")
    client.force_login(manager)

    r = client.get(page(project))

    assertNotContains(r, "<script>alert(1)</script>")
    assertContains(r, "&lt;script&gt;alert(1)&lt;/script&gt;")


def test_filters_by_change_and_by_member(client, project, manager, annotator):
    role_change(project, manager, annotator, Role.REVIEWER)
    update(project, overlap=4, confirmed=True)
    client.force_login(manager)

    roles = client.get(page(project), {"action": AuditAction.ROLE_CHANGE})
    by_mona = client.get(page(project), {"actor": "mona"})
    on_project = client.get(
        page(project), {"object_type": "project", "object_id": project.pk}
    )

    assert actions(roles) == [AuditAction.ROLE_CHANGE]
    assert actions(by_mona) == [AuditAction.ROLE_CHANGE]
    assert actions(on_project) == [AuditAction.SETTINGS_CHANGE]


def test_pages_go_back_in_time_newest_first(
    client, project, manager, annotator, monkeypatch
):
    monkeypatch.setattr(history, "HISTORY_PAGE", 2)
    for role in (Role.REVIEWER, Role.MANAGER, Role.ANNOTATOR):
        role_change(project, manager, annotator, role)
    first, second, third = AuditEntry.objects.order_by("pk")
    client.force_login(manager)

    r = client.get(page(project))
    older = client.get(page(project), {"before": second.pk}, headers=HTMX)

    assert [e.pk for e, _ in r.context["rows"]] == [third.pk, second.pk]
    assert r.context["older"] == f"before={second.pk}"
    assertTemplateUsed(older, "entries")
    assert [e.pk for e, _ in older.context["rows"]] == [first.pk]
    assert older.context["older"] is None


def test_a_bad_filter_is_shown_not_a_500(client, project, manager):
    client.force_login(manager)

    r = client.get(page(project), {"before": "²", "action": "nope"})

    assert r.status_code == 200
    assert r.context["rows"] == []
    assertContains(r, "Select a valid choice")


def test_only_managers_read_the_history(client, project, reviewer, outsider):
    client.force_login(outsider)
    assert client.get(page(project)).status_code == 404
    client.force_login(reviewer)
    assert client.get(page(project)).status_code == 403


def test_the_project_page_links_the_history_for_managers(client, project, manager):
    client.force_login(manager)

    assertContains(client.get(f"/projects/{project.pk}/"), page(project))


def test_a_correction_shows_the_label_sets_field_and_option_labels(
    client, project, manager, annotator
):
    ItemFactory(project=project)
    annotation = submit(claim(annotator, project), labels("policy"))
    annotation_update(annotation=annotation, values=labels("none"), now=NOW)
    client.force_login(manager)

    r = client.get(page(project))

    (changes,) = [c for _, c in r.context["rows"]]
    shown = {c.label: (c.before, c.after) for c in changes}
    assert shown["Refusal type"] == ("Policy", "None (complies)")
    assert "refusal_type" not in shown
