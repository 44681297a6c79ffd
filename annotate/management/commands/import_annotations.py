from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotate.management.commands._common import project_by_name_or_id
from annotate.services.imports import ImportRejected
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
        try:
            stream = open(options["file"], "rb")  # noqa: SIM115 - closed below
        except OSError as e:
            raise CommandError(f"{options['file']}: {e.strerror}") from e
        with stream:
            try:
                summary = annotations_import(
                    project=project, stream=stream, actor=None, now=timezone.now()
                )
            except ImportRejected as e:
                details = "\n".join(f"  {err}" for err in e.errors)
                raise CommandError(f"{options['file']}: {e.message}\n{details}") from e
            except ValidationError as e:
                raise CommandError(" ".join(e.messages)) from e
        created = (
            f"; new annotators: {', '.join(summary.annotators_created)}"
            if summary.annotators_created
            else ""
        )
        self.stdout.write(
            f"Stored {summary.stored} labels on {summary.items} items in "
            f"{project.name!r}{created}."
        )
