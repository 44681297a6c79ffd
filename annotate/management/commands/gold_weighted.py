from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from annotate.management.commands._common import project_by_name_or_id
from annotate.services.gold import gold_weighted_update


class Command(BaseCommand):
    help = (
        "Weighted gold for a project's one-of fields: Dawid-Skene over all its "
        "labels weighs each annotator by how they err; decisions stay."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project name or id")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_name_or_id(options["project"])
        updated = gold_weighted_update(project=project, now=timezone.now())
        self.stdout.write(f"Weighted gold for {updated} items of {project.name!r}.")
