from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from annotate.models import ApiToken, Assignment, Item, Membership
from annotate.services.tokens import api_token_create
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory
from tests.labelling import claim

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def page(project) -> str:
    return f"/projects/{project.pk}/members/"


def action(project, user, what: str) -> str:
    return f"/projects/{project.pk}/members/{user.pk}/{what}/"


ACTIONS = ["role", "deactivate", "reactivate", "tokens/revoke"]


def member(user, project) -> Membership:
    return Membership.objects.get(user=user, project=project)


def row_of(response, user) -> str:
    """The member's row of the members table."""
    html: str = response.content.decode()
    return html.split(f'id="member-{user.pk}"')[1].split("</tr>")[0]


# Who may: managers only; outsiders never learn the project exists.


def test_the_page_lists_members_with_their_figures(client, project, manager, annotator):
    Membership.objects.filter(user=annotator).update(
        annotations_count=7,
        today=timezone.now().date(),
        today_count=3,
        last_active_at=timezone.now(),
    )
    api_token_create(user=annotator, name="ci", now=timezone.now())
    client.force_login(manager)

    r = client.get(page(project))

    assert r.status_code == 200
    assertTemplateUsed(r, "annotate/manager/members.html")
    row = row_of(r, annotator)
    assert '<td class="num">3</td>' in row
    assert '<td class="num">7</td>' in row
    assert "<time" in row
    assert 'aria-label="Revoke the API tokens of alice"' in row
    assertContains(r, "mona")
    assertContains(r, "2 members")


def test_yesterdays_count_is_not_today(client, project, manager, annotator):
    Membership.objects.filter(user=annotator).update(
        today=timezone.now().date() - timedelta(days=1), today_count=5
    )
    client.force_login(manager)

    row = row_of(client.get(page(project)), annotator)

    assert row.count('<td class="num">0</td>') == 2


def test_the_project_page_links_managers_to_members(client, project, manager, reviewer):
    client.force_login(manager)
    assertContains(client.get(f"/projects/{project.pk}/"), page(project))
    client.force_login(reviewer)
    assertNotContains(client.get(f"/projects/{project.pk}/"), page(project))


@pytest.mark.parametrize("role_fixture", ["annotator", "reviewer"])
def test_below_manager_every_url_is_403(
    client, project, manager, role_fixture, request
):
    client.force_login(request.getfixturevalue(role_fixture))

    assert client.get(page(project)).status_code == 403
    assert client.post(page(project), {"member": "x@example.org"}).status_code == 403
    for what in ACTIONS:
        assert (
            client.post(
                action(project, manager, what), {"role": "annotator"}
            ).status_code
            == 403
        )
    assert member(manager, project).role == "manager"
    assert not User.objects.filter(email="x@example.org").exists()


def test_outsiders_get_404_everywhere(client, project, manager, outsider):
    client.force_login(outsider)

    assert client.get(page(project)).status_code == 404
    assert client.post(page(project), {"member": "x@example.org"}).status_code == 404
    for what in ACTIONS:
        assert client.post(action(project, manager, what)).status_code == 404
    assert member(manager, project).is_active


def test_a_deactivated_manager_is_an_outsider(client, project, manager):
    other = UserFactory(username="max")
    MembershipFactory(user=other, project=project, role="manager")
    Membership.objects.filter(user=manager).update(is_active=False)
    client.force_login(manager)

    assert client.get(page(project)).status_code == 404


def test_someone_not_in_the_project_is_404_to_the_actions(
    client, project, manager, outsider
):
    client.force_login(manager)

    for what in ACTIONS:
        assert client.post(action(project, outsider, what)).status_code == 404


def test_a_member_of_another_project_only_is_404_and_untouched(
    client, project, manager, outsider
):
    elsewhere = MembershipFactory(user=outsider, project=ProjectFactory())
    client.force_login(manager)

    for what in ACTIONS:
        assert (
            client.post(
                action(project, outsider, what), {"role": "manager"}
            ).status_code
            == 404
        )
    elsewhere.refresh_from_db()
    assert (elsewhere.role, elsewhere.is_active) == ("annotator", True)


def test_get_on_the_actions_is_405(client, project, manager, annotator):
    client.force_login(manager)

    for what in ACTIONS:
        assert client.get(action(project, annotator, what)).status_code == 405


def test_anonymous_is_sent_to_log_in(client, project):
    r = client.get(page(project))

    assert r.status_code == 302
    assert r["Location"].startswith("/login/")


# Adding.


def test_adding_an_existing_user_redirects_with_a_message(
    client, project, manager, outsider
):
    client.force_login(manager)

    r = client.post(
        page(project),
        {"member": "charlie", "role": "reviewer", "credentials": "password"},
        follow=True,
    )

    assert r.redirect_chain == [(page(project), 302)]
    assertContains(r, "charlie is added as Reviewer.")
    assert member(outsider, project).role == "reviewer"
    assertNotContains(r, "one-time-secret")


def test_a_new_user_by_e_mail_sees_their_password_once_and_it_is_not_cached(
    client, project, manager
):
    client.force_login(manager)

    r = client.post(
        page(project),
        {"member": "erin@example.org", "role": "annotator", "credentials": "password"},
    )

    assert r.status_code == 200
    assert "no-store" in r["Cache-Control"]
    assertContains(r, "erin is added as Annotator.")
    secret = r.content.decode().split('id="one-time-secret" readonly autofocus\n')[1]
    password = secret.split('value="')[1].split('"')[0]
    assert User.objects.get(username="erin").check_password(password)
    client.force_login(manager)
    assertNotContains(client.get(page(project)), password)


def test_an_invitation_link_is_shown_once_and_sets_a_password(client, project, manager):
    client.force_login(manager)

    r = client.post(
        page(project),
        {
            "member": "finn@example.org",
            "role": "annotator",
            "credentials": "invitation",
        },
        headers=HTMX,
    )

    assertTemplateUsed(r, "members-panel")
    assert "no-store" in r["Cache-Control"]
    link = r.content.decode().split('value="http://testserver')[1].split('"')[0]
    assert link.startswith("/invitations/")
    client.logout()

    form = client.get(link, follow=True)
    assertContains(form, "Set your password")
    done = client.post(
        form.redirect_chain[-1][0],
        {
            "new_password1": "a-long-passphrase-9",
            "new_password2": "a-long-passphrase-9",
        },
        follow=True,
    )

    assert done.redirect_chain[-1][0] == "/"
    assertContains(done, project.name)  # logged in, on their projects
    assert User.objects.get(username="finn").check_password("a-long-passphrase-9")
    client.logout()
    assertContains(client.get(link, follow=True), "This invitation no longer works")


def test_adding_a_member_twice_is_refused_on_the_field(
    client, project, manager, annotator
):
    client.force_login(manager)

    r = client.post(
        page(project),
        {"member": "alice", "role": "manager", "credentials": "password"},
        headers=HTMX,
    )

    assert r.status_code == 200
    assertTemplateUsed(r, "members-panel")
    assertContains(r, "alice is already a member.")
    assertContains(r, 'aria-invalid="true"')
    assert member(annotator, project).role == "annotator"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("dana@", "Enter a valid e-mail address."),
        ("", "This field is required."),
        ("two words", "Enter a valid username"),
    ],
)
def test_bad_input_shows_the_error_and_saves_nothing(
    client, project, manager, value, message
):
    users = User.objects.count()
    client.force_login(manager)

    r = client.post(
        page(project), {"member": value, "role": "annotator", "credentials": "password"}
    )

    assert r.status_code == 200
    assertContains(r, message)
    assert User.objects.count() == users
    assert Membership.objects.filter(project=project).count() == 1


def test_an_unknown_role_is_a_field_error(client, project, manager):
    client.force_login(manager)

    r = client.post(
        page(project),
        {"member": "x@example.org", "role": "boss", "credentials": "password"},
    )

    assertContains(r, "Select a valid choice")
    assert not User.objects.filter(email="x@example.org").exists()


# Roles.


def test_a_role_change_with_htmx_returns_the_panel(client, project, manager, annotator):
    client.force_login(manager)

    r = client.post(
        action(project, annotator, "role"), {"role": "reviewer"}, headers=HTMX
    )

    assertTemplateUsed(r, "members-panel")
    assertContains(r, "alice is now Reviewer.")
    assert member(annotator, project).role == "reviewer"


def test_a_role_change_without_htmx_redirects(client, project, manager, annotator):
    client.force_login(manager)

    r = client.post(action(project, annotator, "role"), {"role": "manager"})

    assert (r.status_code, r["Location"]) == (302, page(project))
    assert member(annotator, project).role == "manager"


def test_demoting_the_last_manager_is_refused_in_their_row(client, project, manager):
    client.force_login(manager)

    r = client.post(
        action(project, manager, "role"), {"role": "annotator"}, headers=HTMX
    )

    assert r.status_code == 200
    row = row_of(r, manager)
    assert (
        "mona is the project&#x27;s last manager: make someone else Manager first."
        in row
    )
    assert member(manager, project).role == "manager"


def test_an_unknown_role_in_a_row_is_refused(client, project, manager, annotator):
    client.force_login(manager)

    r = client.post(action(project, annotator, "role"), {"role": "boss"})

    assertContains(r, "Select a valid choice")
    assert member(annotator, project).role == "annotator"


def test_a_manager_who_steps_down_leaves_the_page(client, project, manager):
    other = UserFactory(username="max")
    MembershipFactory(user=other, project=project, role="manager")
    client.force_login(manager)

    r = client.post(
        action(project, manager, "role"), {"role": "reviewer"}, headers=HTMX
    )

    assert r["HX-Redirect"] == f"/projects/{project.pk}/"


# Deactivation.


def test_deactivating_returns_the_claim_and_says_so(
    client, project, manager, annotator
):
    item = ItemFactory(project=project)
    held = claim(annotator, project)
    client.force_login(manager)

    r = client.post(action(project, annotator, "deactivate"), follow=True)

    assertContains(r, "alice is deactivated; 1 claimed item went back to the queue.")
    assertContains(r, 'aria-label="Reactivate alice"')
    assert not member(annotator, project).is_active
    assert Assignment.objects.get(pk=held.pk).status == "expired"
    assert Item.objects.get(pk=item.pk).slots_left == project.overlap


def test_deactivating_the_last_manager_is_refused(client, project, manager):
    client.force_login(manager)

    r = client.post(action(project, manager, "deactivate"))

    assert r.status_code == 200
    assertContains(r, "mona is the project&#x27;s last manager")
    assert member(manager, project).is_active


def test_reactivating_gives_the_project_back(client, project, manager, annotator):
    Membership.objects.filter(user=annotator).update(is_active=False)
    client.force_login(manager)

    r = client.post(action(project, annotator, "reactivate"), headers=HTMX)

    assertContains(r, "alice is active again.")
    assert member(annotator, project).is_active
    client.force_login(annotator)
    assert client.get(f"/projects/{project.pk}/").status_code == 200


# Tokens.


def test_a_manager_revokes_a_members_tokens(client, project, manager, annotator):
    _, key = api_token_create(user=annotator, name="ci", now=timezone.now())
    client.force_login(manager)

    r = client.post(action(project, annotator, "tokens/revoke"), headers=HTMX)

    assertContains(r, "Revoked 1 API token of alice.")
    assert ApiToken.objects.get().revoked_by == manager
    client.logout()
    assert (
        client.get(
            "/api/projects/", headers={"Authorization": f"Token {key}"}
        ).status_code
        == 401
    )


def test_the_page_runs_the_same_queries_for_many_members(
    client, project, manager, django_assert_num_queries
):
    for i in range(30):
        user = UserFactory(username=f"m{i}", email=f"m{i}@example.org")
        MembershipFactory(user=user, project=project)
        api_token_create(user=user, name="ci", now=timezone.now())
    client.force_login(manager)

    # Session, user, the manager's membership, the members with their counts.
    with django_assert_num_queries(4):
        client.get(page(project))
