from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from annotate.management.commands._common import import_file, project_by_name_or_id
from annotate.services.label_imports import annotations_import


class Command(BaseCommand):
    help = (
        "Import people's labels given elsewhere (JSON Lines or a JSON array of "
        "{id, annotator, values[, seconds, created_at]}) as the project's "
        "annotations, all or none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="project name or id")
        parser.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_name_or_id(options["project"])
        with import_file(options["file"]) as stream:
            summary = annotations_import(
                project=project, stream=stream, actor=None, now=timezone.now()
            )
        created = (
            f"; new annotators: {', '.join(summary.annotators_created)}"
            if summary.annotators_created
            else ""
        )
        self.stdout.write(
            f"Stored {summary.stored} labels on {summary.items} items in "
            f"{project.name!r}{created}."
        )
