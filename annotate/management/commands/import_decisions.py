from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotate.management.commands._common import import_file, project_by_name_or_id
from annotate.models import Membership, Role
from annotate.services.label_imports import decisions_import


class Command(BaseCommand):
    help = (
        "Record reviewers' decisions given elsewhere (JSON Lines or a JSON array "
        "of {id, values, reason[, reviewer]}), all or none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="project name or id")
        parser.add_argument(
            "--reviewer",
            required=True,
            help="reviewer or manager of the project whose decisions lines "
            "without a reviewer are",
        )
        parser.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_name_or_id(options["project"])
        reviewer = get_user_model().objects.filter(username=options["reviewer"]).first()
        membership = Membership.objects.filter(
            project=project, user=reviewer, is_active=True
        ).first()
        if membership is None or not membership.has_role(Role.REVIEWER):
            raise CommandError(
                f"--reviewer: {options['reviewer']!r} is not a reviewer or manager "
                f"of {project.name!r}."
            )
        with import_file(options["file"]) as stream:
            summary = decisions_import(
                project=project,
                stream=stream,
                reviewer=membership.user,
                now=timezone.now(),
            )
        self.stdout.write(f"Recorded {summary.stored} decisions in {project.name!r}.")
