from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from annotate.management.commands._common import import_file, project_by_name_or_id
from annotate.services.judges import judgements_import


class Command(BaseCommand):
    help = (
        "Import a judge's labels (JSONL of {id, values}) as a non-human annotator: "
        "never shown to people, never in agreement or gold, compared with the gold."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project name or id")
        parser.add_argument("file")
        parser.add_argument(
            "--judge", required=True, help="the judge's name, e.g. gpt-judge-v2"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_name_or_id(options["project"])
        with import_file(options["file"], invalid="--judge: ") as stream:
            summary = judgements_import(
                project=project,
                stream=stream,
                judge=options["judge"],
                now=timezone.now(),
            )
        self.stdout.write(
            f"Stored {summary.stored} judgements by {summary.judge!r} in "
            f"{project.name!r}"
            + (f" (replacing {summary.replaced})." if summary.replaced else ".")
        )
