from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotate import exporters
from annotate.management.commands._common import project_by_name_or_id
from annotate.services.exports import ExportOptions, export_alpha, gold_export


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD)") from e


def _ratios(text: str) -> tuple[float, float, float]:
    try:
        train, validation, test = (float(p) for p in text.split(","))
    except ValueError as e:
        raise CommandError(
            f"--ratios: {text!r} is not three numbers like 0.8,0.1,0.1"
        ) from e
    return train, validation, test


class Command(BaseCommand):
    help = "Export a project's gold (JSONL, CSV or Parquet) with a manifest beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project name or id")
        parser.add_argument("--format", choices=exporters.FORMATS, default="jsonl")
        parser.add_argument("--out", required=True, help="the data file to write")
        parser.add_argument(
            "--annotations", action="store_true", help="every raw label too"
        )
        parser.add_argument("--model", default="", help="source model")
        parser.add_argument("--dataset", default="")
        parser.add_argument("--min-agreement", type=float, default=None)
        parser.add_argument("--adjudicated-only", action="store_true")
        parser.add_argument("--since", type=_day, help="gold changed on or after")
        parser.add_argument("--until", type=_day, help="gold changed on or before")
        parser.add_argument(
            "--ratios",
            type=_ratios,
            default=(0.8, 0.1, 0.1),
            help="train,validation,test",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_name_or_id(options["project"])
        export = ExportOptions(
            fmt=options["format"],
            source_model=options["model"],
            dataset=options["dataset"],
            min_agreement=options["min_agreement"],
            adjudicated_only=options["adjudicated_only"],
            since=options["since"],
            until=options["until"],
            ratios=options["ratios"],
            with_annotations=options["annotations"],
        )
        try:
            exporters.split_of("", 0, ratios=export.ratios)
        except ValueError as e:
            raise CommandError(f"--ratios: {e}") from e
        out = Path(options["out"])
        now = timezone.now()
        try:
            with out.open("wb") as stream:
                manifest = gold_export(
                    project=project,
                    options=export,
                    stream=stream,
                    alpha=export_alpha(project, now=now),
                    now=now,
                )
        except OSError as e:
            raise CommandError(f"--out: {e}") from e
        manifest_path = out.with_name(out.name + ".manifest.json")
        manifest_path.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        splits = ", ".join(
            f"{k} {v}" for k, v in manifest["counts"]["by_split"].items()
        )
        self.stdout.write(
            f"Exported {manifest['counts']['rows']} gold rows of {project.name!r} to "
            f"{out} ({splits}); manifest {manifest_path} (sha256 {manifest['sha256'][:12]}...)."
        )
