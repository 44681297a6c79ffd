"""Project members: adding people, their roles, deactivation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from annotate.models import (
    Assignment,
    AssignmentStatus,
    AuditAction,
    Membership,
    Project,
    Role,
)
from annotate.services.audit import audit_record
from annotate.services.queue import _assignments_release


class Credentials(models.TextChoices):
    """What a user created by membership_add gets, to log in with."""

    PASSWORD = "password", "A one-time password"
    INVITATION = "invitation", "An invitation link to set their own password"


@dataclass
class NewMember:
    membership: Membership
    created_user: bool
    # A new user's way in, returned once to be handed over and stored nowhere:
    # their password, or the path of the link that sets one.
    password: str | None
    invitation_path: str | None = None


@transaction.atomic
def membership_add(
    *,
    project: Project,
    role: Role,
    actor: User | None,
    now: datetime,
    username: str = "",
    email: str = "",
    credentials: Credentials = Credentials.PASSWORD,
) -> NewMember:
    """Add someone to the project: a user found by username or e-mail, or a
    new user, who gets `credentials` (returned once in NewMember).

    An invitation is Django's password-reset token: it works once (setting
    the password changes what it signs) and for PASSWORD_RESET_TIMEOUT.
    Raises ValidationError on `username` or `email`: code `required` with
    neither, `invalid` for an e-mail or a new username the user model
    refuses, `ambiguous` when several users have the e-mail, and
    `already_member` for a member, active or not (reactivation is its own
    action); nothing is saved then. Audited as done by `actor`.
    """
    field = "email" if email.strip() else "username"
    user = _user_find(username=username.strip(), email=email.strip())
    if isinstance(user, User):
        membership = Membership.objects.filter(user=user, project=project).first()
        if membership is not None:
            state = "" if membership.is_active else " (deactivated: reactivate them)"
            raise _invalid(
                field,
                f"{user.username} is already a member{state}.",
                code="already_member",
            )
        return NewMember(
            membership=_membership_create(
                project=project, user=user, role=role, actor=actor, now=now
            ),
            created_user=False,
            password=None,
        )
    password = (
        secrets.token_urlsafe(12) if credentials == Credentials.PASSWORD else None
    )
    # No password (an unusable one) until the invitation sets it.
    created = get_user_model().objects.create_user(
        username=user.username, email=user.email, password=password
    )
    invitation = None
    if credentials == Credentials.INVITATION:
        invitation = reverse(
            "invitation",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(created.pk)),
                "token": default_token_generator.make_token(created),
            },
        )
    return NewMember(
        membership=_membership_create(
            project=project, user=created, role=role, actor=actor, now=now
        ),
        created_user=True,
        password=password,
        invitation_path=invitation,
    )


def _user_find(*, username: str, email: str) -> User | _NewUser:
    """The user by e-mail (then by a username equal to it) or by username;
    if none, the checked username and e-mail of the user to create."""
    users = get_user_model().objects
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise _invalid(
                "email", "Enter a valid e-mail address.", code="invalid"
            ) from None
        email = users.normalize_email(email)
        found = list(users.filter(email__iexact=email)[:2])
        if len(found) > 1:
            raise _invalid(
                "email",
                "Several users have this e-mail address: add one by username.",
                code="ambiguous",
            )
        if found:
            return found[0]
        if by_name := users.filter(username=email).first():
            return by_name
        return _NewUser(username=_username_free(email.split("@")[0]), email=email)
    if not username:
        raise _invalid(
            "username", "Give a username or an e-mail address.", code="required"
        )
    if by_name := users.filter(username=username).first():
        return by_name
    try:
        User._meta.get_field("username").clean(username, None)
    except ValidationError as e:
        raise _invalid("username", e.messages, code="invalid") from None
    return _NewUser(username=username, email="")


@dataclass
class _NewUser:
    username: str
    email: str


def _username_free(wanted: str) -> str:
    """A free username like `wanted` (an e-mail's local part): `dana`, else
    `dana2`, `dana3`..., with only the characters usernames allow."""
    base = "".join(c for c in wanted if c.isalnum() or c in "._+-")[:140] or "member"
    taken = set(
        get_user_model()
        .objects.filter(username__startswith=base)
        .values_list("username", flat=True)
    )
    n = 1
    name = base
    while name in taken:
        n += 1
        name = f"{base}{n}"
    return name


def _membership_create(
    *, project: Project, user: User, role: Role, actor: User | None, now: datetime
) -> Membership:
    membership = Membership.objects.create(
        user=user, project=project, role=role, is_active=True, created_at=now
    )
    audit_record(
        project_id=project.pk,
        actor=actor,
        action=AuditAction.MEMBER_ADD,
        obj=membership,
        object_repr=user.username,
        before={},
        after={"role": role},
        now=now,
    )
    return membership


@transaction.atomic
def membership_ensure(
    *, project: Project, username: str, role: Role, actor: User | None, now: datetime
) -> NewMember:
    """Make `username` an active member with `role`, creating the user (with
    a random password, returned once) if new: the command line's, the demo's
    and the benchmarks' way to add people.

    Idempotent: an existing member gets the role and is reactivated. Raises
    ValidationError (code `last_manager`) rather than demote the project's
    last manager.
    """
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    password = None
    if user is None:
        password = secrets.token_urlsafe(12)
        user = user_model.objects.create_user(username=username, password=password)
    membership = Membership.objects.filter(user=user, project=project).first()
    if membership is None:
        membership = _membership_create(
            project=project, user=user, role=role, actor=actor, now=now
        )
    else:
        membership = membership_role_set(
            membership=membership, role=role, actor=actor, now=now
        )
        membership = membership_reactivate(membership=membership, actor=actor, now=now)
    return NewMember(
        membership=membership, created_user=password is not None, password=password
    )


@transaction.atomic
def membership_role_set(
    *, membership: Membership, role: Role, actor: User | None, now: datetime
) -> Membership:
    """Give the member another role.

    Idempotent (audited only when the role changes). Raises ValidationError on `role` (code `last_manager`) when
    it would leave the project without an active manager.
    """
    managers = _managers_lock(membership.project_id)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == role:
        return membership
    if membership.pk in managers:
        _keep_a_manager(membership, managers, field="role")
    audit_record(
        project_id=membership.project_id,
        actor=actor,
        action=AuditAction.ROLE_CHANGE,
        obj=membership,
        object_repr=membership.user.username,
        before={"role": membership.role},
        after={"role": role},
        now=now,
    )
    membership.role = role
    Membership.objects.filter(pk=membership.pk).update(role=role)
    return membership


@transaction.atomic
def membership_deactivate(
    *, membership: Membership, actor: User | None, now: datetime
) -> tuple[Membership, int]:
    """Retire a member: they lose the project, and their live claims go back
    to the queue at once (expired, their slots returned); (membership, the
    number of claims released).

    Their labels stay. Audited when they were active. Idempotent (a claim that slipped in as they were
    deactivated is released by doing it again). Raises ValidationError (code
    `last_manager`) for the project's last active manager.
    """
    # The submit locks the claim, its item, the member, then the project: the
    # same order here (claims, members, then items), so a submit of theirs in
    # flight finishes before this instead of deadlocking with it.
    live = list(
        Assignment.objects.select_for_update()
        .filter(
            project_id=membership.project_id,
            annotator_id=membership.user_id,
            status=AssignmentStatus.LIVE,
        )
        .only("pk", "item_id")
    )
    managers = _managers_lock(membership.project_id)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.pk in managers:
        _keep_a_manager(membership, managers, field=None)
    if live:
        _assignments_release(live, status=AssignmentStatus.EXPIRED)
    if membership.is_active:
        _active_audit(membership, active=False, actor=actor, now=now)
        membership.is_active = False
        membership.deactivated_at = now
        Membership.objects.filter(pk=membership.pk).update(
            is_active=False, deactivated_at=now
        )
    return membership, len(live)


@transaction.atomic
def membership_reactivate(
    *, membership: Membership, actor: User | None, now: datetime
) -> Membership:
    """Give a retired member the project back, with the role they had.
    Idempotent (audited when they were retired)."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if not membership.is_active:
        _active_audit(membership, active=True, actor=actor, now=now)
        membership.is_active = True
        membership.deactivated_at = None
        Membership.objects.filter(pk=membership.pk).update(
            is_active=True, deactivated_at=None
        )
    return membership


def _active_audit(
    membership: Membership, *, active: bool, actor: User | None, now: datetime
) -> None:
    audit_record(
        project_id=membership.project_id,
        actor=actor,
        action=AuditAction.MEMBER_REACTIVATE
        if active
        else AuditAction.MEMBER_DEACTIVATE,
        obj=membership,
        object_repr=membership.user.username,
        before={"is_active": not active},
        after={"is_active": active},
        now=now,
    )


def _managers_lock(project_id: int) -> list[int]:
    """Lock the project's active managers; their ids.

    Taken before the member's own row and in id order, so any two changes
    lock in the same order and never deadlock; and under the lock, of two
    managers demoting each other at once the second sees the first's change
    (PostgreSQL re-checks a locked row's WHERE on its newest version).
    """
    return list(
        Membership.objects.select_for_update()
        .filter(project_id=project_id, role=Role.MANAGER, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _keep_a_manager(
    membership: Membership, managers: list[int], *, field: str | None
) -> None:
    """Refuse to take `membership`, one of the active `managers`, out of
    managing when no other is left."""
    if any(pk != membership.pk for pk in managers):
        return
    message = (
        f"{membership.user} is the project's last manager: "
        "make someone else Manager first."
    )
    if field is None:
        raise ValidationError(message, code="last_manager")
    raise _invalid(field, message, code="last_manager")


def _invalid(field: str, message: str | list[str], *, code: str) -> ValidationError:
    """A ValidationError on `field` that keeps its code (a dict of plain
    messages would drop it)."""
    messages = [message] if isinstance(message, str) else message
    return ValidationError({field: [ValidationError(m, code=code) for m in messages]})
