from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from annotate.management.commands._common import project_by_name_or_id
from annotate.models import Role
from annotate.services.members import membership_add


class Command(BaseCommand):
    help = "Add a user to a project with a role, creating the user (with a printed password) if new."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project name or id")
        parser.add_argument("username")
        parser.add_argument(
            "--role", choices=[r.value for r in Role], default=Role.ANNOTATOR
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_name_or_id(options["project"])
        added = membership_add(
            now=timezone.now(),
            project=project,
            username=options["username"],
            role=Role(options["role"]),
        )
        user = added.membership.user
        self.stdout.write(
            f"{user.username} is {added.membership.role} in {project.name!r}."
        )
        if added.password:
            self.stdout.write(
                f"Created user {user.username} with password: {added.password}"
            )
