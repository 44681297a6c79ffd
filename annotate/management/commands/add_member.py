from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotate.management.commands._common import project_by_name_or_id
from annotate.models import Role
from annotate.services.members import membership_ensure


class Command(BaseCommand):
    help = (
        "Add a user to a project with a role, creating the user (with a printed "
        "password) if new; again, it sets the role and reactivates."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project name or id")
        parser.add_argument("username")
        parser.add_argument(
            "--role", choices=[r.value for r in Role], default=Role.ANNOTATOR
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_name_or_id(options["project"])
        try:
            added = membership_ensure(
                actor=None,
                now=timezone.now(),
                project=project,
                username=options["username"],
                role=Role(options["role"]),
            )
        except ValidationError as e:
            raise CommandError(" ".join(e.messages)) from None
        user = added.membership.user
        self.stdout.write(
            f"{user.username} is {added.membership.role} in {project.name!r}."
        )
        if added.password:
            self.stdout.write(
                f"Created user {user.username} with password: {added.password}"
            )
