"""Project members."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction

from annotate.models import Membership, Project, Role


@dataclass
class NewMember:
    membership: Membership
    created_user: bool
    password: str | None  # set only when the user was created here


@transaction.atomic
def membership_add(
    *, project: Project, username: str, role: Role, now: datetime
) -> NewMember:
    """Add a user to a project with a role, creating the user if new.

    Idempotent: an existing member gets the new role and is reactivated. A new
    user gets a random password, returned once so it can be handed over.
    """
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    password = None
    if user is None:
        password = secrets.token_urlsafe(12)
        user = user_model.objects.create_user(username=username, password=password)
    membership, _ = Membership.objects.update_or_create(
        user=user,
        project=project,
        defaults={"role": role, "is_active": True},
        create_defaults={"role": role, "is_active": True, "created_at": now},
    )
    return NewMember(
        membership=membership, created_user=password is not None, password=password
    )
