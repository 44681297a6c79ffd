from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from annotate import importers
from annotate.management.commands._common import import_file, project_by_name_or_id
from annotate.services.imports import transcripts_import


class Command(BaseCommand):
    help = "Import transcripts (JSONL, JSON, CSV or HH-RLHF text) into a project: all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project name or id")
        parser.add_argument("file")
        parser.add_argument("--format", choices=importers.FORMATS, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_name_or_id(options["project"])
        progress = sys.stderr.isatty()
        with import_file(options["file"]) as stream:
            summary = transcripts_import(
                now=timezone.now(),
                project=project,
                stream=stream,
                filename=options["file"],
                fmt=options["format"],
                progress=(lambda n: self.stderr.write(f"\rchecked {n} rows", ending=""))
                if progress
                else None,
            )
        if progress:
            self.stderr.write("")
        models = ", ".join(
            f"{m or '(no model)'}: {n}" for m, n in summary.by_model.items()
        )
        self.stdout.write(
            f"Imported {summary.imported} transcripts into {project.name!r} "
            f"({summary.format}); skipped {summary.duplicates} duplicates."
            + (f"\nBy model: {models}" if models else "")
            + "".join(
                f"\n  line {d['line']}: skipped, {d['reason']}"
                for d in summary.duplicate_rows
            )
        )
