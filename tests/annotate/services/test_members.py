from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from annotate.access import access_project
from annotate.models import Assignment, Item, Membership, Role
from annotate.services.members import (
    Credentials,
    membership_add,
    membership_deactivate,
    membership_ensure,
    membership_reactivate,
    membership_role_set,
)
from annotate.services.queue import annotation_submit, assignment_skip
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory
from tests.labelling import claim, labels, submit

pytestmark = pytest.mark.django_db

# A login's request: axes' backend throttles by it, and refuses a call without one.
LOGIN = RequestFactory().post("/login/")

NOW = timezone.now()


def member(user, project) -> Membership:
    return Membership.objects.get(user=user, project=project)


# membership_add: the members page's "Add a member".


def test_an_existing_user_is_added_by_username_without_credentials(project, outsider):
    added = membership_add(
        actor=None, project=project, username="charlie", role=Role.REVIEWER, now=NOW
    )

    assert not added.created_user
    assert added.password is None
    assert added.invitation_path is None
    assert member(outsider, project).role == "reviewer"
    assert member(outsider, project).created_at == NOW


def test_an_existing_user_is_found_by_e_mail_in_any_case(project):
    user = UserFactory(username="dana", email="dana@example.org")

    added = membership_add(
        actor=None,
        project=project,
        email="Dana@Example.org",
        role=Role.ANNOTATOR,
        now=NOW,
    )

    assert added.membership.user == user
    assert not added.created_user


def test_a_new_user_by_e_mail_gets_a_one_time_password_that_works(project):
    added = membership_add(
        actor=None,
        project=project,
        email="erin@example.org",
        role=Role.ANNOTATOR,
        now=NOW,
    )

    user = User.objects.get(email="erin@example.org")
    assert added.created_user
    assert user.username == "erin"
    assert added.password
    assert authenticate(LOGIN, username="erin", password=added.password) == user
    assert added.membership.is_active


def test_a_new_user_named_like_someone_else_gets_a_free_username(project):
    UserFactory(username="erin")

    membership_add(
        actor=None,
        project=project,
        email="erin@example.org",
        role=Role.ANNOTATOR,
        now=NOW,
    )

    assert User.objects.get(email="erin@example.org").username == "erin2"


def test_an_invited_user_has_no_password_until_the_link_sets_one(project):
    added = membership_add(
        actor=None,
        project=project,
        username="finn",
        role=Role.ANNOTATOR,
        now=NOW,
        credentials=Credentials.INVITATION,
    )

    user = User.objects.get(username="finn")
    assert added.password is None
    assert not user.has_usable_password()
    assert added.invitation_path
    assert added.invitation_path.startswith("/invitations/")


def test_adding_a_member_twice_is_refused_and_changes_nothing(project, annotator):
    with pytest.raises(ValidationError) as e:
        membership_add(
            actor=None, project=project, username="alice", role=Role.MANAGER, now=NOW
        )

    assert e.value.error_dict["username"][0].code == "already_member"
    assert "alice is already a member." in e.value.messages
    assert member(annotator, project).role == "annotator"


def test_adding_a_deactivated_member_says_to_reactivate_them(project, annotator):
    membership_deactivate(actor=None, membership=member(annotator, project), now=NOW)

    with pytest.raises(ValidationError, match="reactivate them"):
        membership_add(
            actor=None,
            project=project,
            email="",
            username="alice",
            role=Role.ANNOTATOR,
            now=NOW,
        )
    assert not member(annotator, project).is_active


@pytest.mark.parametrize("email", ["not-an-address", "a@b", "two@@example.org"])
def test_an_invalid_e_mail_is_refused_and_creates_no_user(project, email):
    before = User.objects.count()

    with pytest.raises(ValidationError) as e:
        membership_add(
            actor=None, project=project, email=email, role=Role.ANNOTATOR, now=NOW
        )

    assert e.value.error_dict["email"][0].code == "invalid"
    assert User.objects.count() == before
    assert not Membership.objects.exists()


def test_a_username_the_user_model_refuses_is_refused(project):
    with pytest.raises(ValidationError) as e:
        membership_add(
            actor=None, project=project, username="a b!", role=Role.ANNOTATOR, now=NOW
        )

    assert e.value.error_dict["username"][0].code == "invalid"
    assert not User.objects.filter(username="a b!").exists()


def test_neither_username_nor_e_mail_is_refused(project):
    with pytest.raises(ValidationError) as e:
        membership_add(
            actor=None, project=project, username=" ", role=Role.ANNOTATOR, now=NOW
        )

    assert e.value.error_dict["username"][0].code == "required"


def test_an_e_mail_two_users_share_is_refused_as_ambiguous(project):
    UserFactory(username="g1", email="g@example.org")
    UserFactory(username="g2", email="G@example.org")

    with pytest.raises(ValidationError) as e:
        membership_add(
            actor=None,
            project=project,
            email="g@example.org",
            role=Role.ANNOTATOR,
            now=NOW,
        )

    assert e.value.error_dict["email"][0].code == "ambiguous"
    assert not Membership.objects.exists()


# membership_ensure: the command line's add_member, idempotent.


def test_ensure_creates_a_new_user_with_a_password_that_works(project):
    added = membership_ensure(
        actor=None, now=NOW, project=project, username="dana", role=Role.REVIEWER
    )

    assert added.created_user
    assert added.password
    assert authenticate(LOGIN, username="dana", password=added.password) is not None
    assert added.membership.role == "reviewer"


def test_ensure_again_changes_the_role_and_creates_no_user(project, annotator):
    added = membership_ensure(
        actor=None,
        now=NOW,
        project=project,
        username=annotator.username,
        role=Role.MANAGER,
    )

    assert not added.created_user
    assert added.password is None
    assert member(annotator, project).role == "manager"
    assert Membership.objects.filter(user=annotator).count() == 1


def test_ensure_reactivates_a_retired_member(project, annotator):
    Membership.objects.filter(user=annotator).update(is_active=False)

    membership_ensure(
        actor=None,
        now=NOW,
        project=project,
        username=annotator.username,
        role=Role.ANNOTATOR,
    )

    assert member(annotator, project).is_active


def test_ensure_will_not_demote_the_last_manager(project, manager):
    with pytest.raises(ValidationError) as e:
        membership_ensure(
            actor=None, now=NOW, project=project, username="mona", role=Role.ANNOTATOR
        )

    assert e.value.error_dict["role"][0].code == "last_manager"
    assert member(manager, project).role == "manager"


# Roles.


def test_a_role_changes_and_changing_it_again_is_a_no_op(project, annotator):
    membership_role_set(
        now=timezone.now(),
        actor=None,
        membership=member(annotator, project),
        role=Role.REVIEWER,
    )
    again = membership_role_set(
        now=timezone.now(),
        actor=None,
        membership=member(annotator, project),
        role=Role.REVIEWER,
    )

    assert again.role == "reviewer"
    assert member(annotator, project).role == "reviewer"


def test_the_last_manager_cannot_be_demoted(project, manager):
    with pytest.raises(ValidationError) as e:
        membership_role_set(
            now=timezone.now(),
            actor=None,
            membership=member(manager, project),
            role=Role.REVIEWER,
        )

    assert e.value.error_dict["role"][0].code == "last_manager"
    assert "mona is the project's last manager" in e.value.messages[0]
    assert member(manager, project).role == "manager"


def test_a_manager_can_be_demoted_while_another_remains(project, manager):
    other = UserFactory(username="max")
    MembershipFactory(user=other, project=project, role="manager")

    membership_role_set(
        now=timezone.now(),
        actor=None,
        membership=member(manager, project),
        role=Role.ANNOTATOR,
    )

    assert member(manager, project).role == "annotator"


def test_a_deactivated_manager_does_not_count_as_the_other_manager(project, manager):
    other = UserFactory(username="max")
    MembershipFactory(user=other, project=project, role="manager", is_active=False)

    with pytest.raises(ValidationError):
        membership_role_set(
            now=timezone.now(),
            actor=None,
            membership=member(manager, project),
            role=Role.ANNOTATOR,
        )


# Deactivation.


def test_deactivating_returns_the_live_claim_to_the_queue(project, annotator):
    item = ItemFactory(project=project)
    assignment = claim(annotator, project)
    assert Item.objects.get(pk=item.pk).slots_left == project.overlap - 1

    membership, released = membership_deactivate(
        actor=None, membership=member(annotator, project), now=NOW
    )

    assert released == 1
    assert not membership.is_active
    assert member(annotator, project).deactivated_at == NOW
    assert Assignment.objects.get(pk=assignment.pk).status == "expired"
    assert Item.objects.get(pk=item.pk).slots_left == project.overlap


def test_deactivating_twice_releases_nothing_more(project, annotator):
    ItemFactory(project=project)
    claim(annotator, project)
    membership_deactivate(actor=None, membership=member(annotator, project), now=NOW)

    _, released = membership_deactivate(
        actor=None, membership=member(annotator, project), now=NOW
    )

    assert released == 0
    assert Item.objects.get().slots_left == project.overlap


def test_deactivating_keeps_the_labels_and_other_projects(project, annotator):
    ItemFactory(project=project)
    submit(claim(annotator, project), labels("policy"))
    elsewhere = MembershipFactory(user=annotator, project=ProjectFactory())

    membership_deactivate(actor=None, membership=member(annotator, project), now=NOW)

    assert annotator.annotations.count() == 1
    assert Membership.objects.get(pk=elsewhere.pk).is_active


def test_a_deactivated_member_loses_the_project_until_reactivated(project, annotator):
    membership_deactivate(actor=None, membership=member(annotator, project), now=NOW)
    with pytest.raises(Exception, match="No such project"):
        access_project(annotator, project.pk)

    membership_reactivate(
        now=timezone.now(), actor=None, membership=member(annotator, project)
    )

    assert access_project(annotator, project.pk).is_active
    assert member(annotator, project).deactivated_at is None


def test_the_last_manager_cannot_be_deactivated(project, manager):
    with pytest.raises(ValidationError) as e:
        membership_deactivate(actor=None, membership=member(manager, project), now=NOW)

    assert e.value.error_list[0].code == "last_manager"
    assert member(manager, project).is_active


def test_reactivating_an_active_member_is_a_no_op(project, annotator):
    assert membership_reactivate(
        now=timezone.now(), actor=None, membership=member(annotator, project)
    ).is_active


# Last active: kept by the submit's and the skip's counter UPDATEs.


def test_a_submit_and_a_skip_set_last_active(project, annotator):
    ItemFactory.create_batch(2, project=project)
    assert member(annotator, project).last_active_at is None
    first = claim(annotator, project)
    annotation_submit(
        assignment=first,
        values=labels("policy"),
        client_uuid=uuid.uuid4(),
        seconds=1,
        now=NOW,
    )
    assert member(annotator, project).last_active_at == NOW

    later = NOW + timedelta(minutes=5)
    assignment_skip(assignment=claim(annotator, project), reason="", now=later)

    assert member(annotator, project).last_active_at == later


# PostgreSQL: the slot is back at once, and the last manager holds under a race.


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_deactivated_members_slot_can_be_claimed_by_another_at_once():
    project = ProjectFactory(overlap=1)
    ItemFactory(project=project)
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    MembershipFactory(user=alice, project=project)
    MembershipFactory(user=bob, project=project)
    held = claim(alice, project)
    assert claim(bob, project) is None  # the one slot is alice's

    membership_deactivate(
        actor=None, membership=member(alice, project), now=timezone.now()
    )

    # Well within alice's lease: no expiry job has run, the slot came back.
    got = claim(bob, project)
    assert got is not None
    assert got.item_id == held.item_id
    assert Item.objects.get().slots_left == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_managers_demoting_each_other_at_once_leave_one_manager():
    project = ProjectFactory()
    ids = [
        MembershipFactory(
            user=UserFactory(username=f"m{i}"), project=project, role="manager"
        ).pk
        for i in range(2)
    ]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(membership_id: int) -> None:
        try:
            start.wait()
            membership_role_set(
                now=timezone.now(),
                actor=None,
                membership=Membership.objects.get(pk=membership_id),
                role=Role.ANNOTATOR,
            )
            outcomes.append("demoted")
        except ValidationError as e:
            outcomes.append(e.error_dict["role"][0].code or "")
        except BaseException as e:  # noqa: BLE001 - a deadlock, say, shows in the assert
            outcomes.append(repr(e))
        finally:
            connection.close()

    threads = [threading.Thread(target=demote, args=(pk,)) for pk in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(outcomes) == ["demoted", "last_manager"]
    assert Membership.objects.filter(project=project, role="manager").count() == 1
