from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotate import exporters
from annotate.management.commands._common import flags_error, project_by_name_or_id
from annotate.services.exports import export_options_parse, export_to_files

# The flag of the one option named otherwise than its key.
FLAGS = {"source_model": "--model"}


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
        parser.add_argument("--min-agreement", default=None)
        parser.add_argument("--adjudicated-only", action="store_true")
        parser.add_argument(
            "--include-unresolved",
            action="store_true",
            help="items whose key field is unresolved too, flagged key_resolved false",
        )
        parser.add_argument("--since", help="gold changed on or after (YYYY-MM-DD)")
        parser.add_argument("--until", help="gold changed on or before (YYYY-MM-DD)")
        parser.add_argument(
            "--ratios", default="0.8,0.1,0.1", help="train,validation,test"
        )
        parser.add_argument(
            "--kind",
            choices=("gold", "pairs", "sft"),
            default="gold",
            help="gold, preference pairs or chat rows for fine-tuning",
        )
        parser.add_argument("--min-confidence", default=None)
        parser.add_argument("--max-pairs-per-group", default=None)
        parser.add_argument(
            "--quality-margin",
            default=None,
            help="pairs: the better of two appropriate refusals by this quality mean",
        )
        parser.add_argument(
            "--behaviour-differs",
            action="store_true",
            help="pairs: only those whose refusal types differ",
        )
        parser.add_argument("--refusal-type", default="", help="sft only")
        parser.add_argument("--request-harm", default="", help="sft only")
        parser.add_argument(
            "--min-quality", default=None, help="sft: refusals rated at least this"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_name_or_id(options["project"])
        try:
            export = export_options_parse({**options, "source_model": options["model"]})
        except ValidationError as e:
            raise flags_error(e, FLAGS) from e
        out = Path(options["out"])
        manifest_path = out.with_name(out.name + ".manifest.json")
        # Beside the data, named after it, so no README.md of the directory's
        # is overwritten; renamed README.md it is the data's Hugging Face card.
        card_path = out.with_name(out.name + ".README.md")
        try:
            manifest = export_to_files(
                project=project,
                options=export,
                data_path=out,
                manifest_path=manifest_path,
                now=timezone.now(),
                card_path=card_path,
            )
        except OSError as e:
            raise CommandError(f"--out: {e}") from e
        counts = manifest["counts"]
        if export.kind != "gold":
            splits = ", ".join(f"{k} {v}" for k, v in counts["by_split"].items())
            self.stdout.write(
                f"Exported {counts['rows']} {export.kind} rows of {project.name!r} "
                f"to {out} ({splits}); manifest {manifest_path}, card {card_path} "
                f"(sha256 {manifest['sha256'][:12]}...)."
            )
            return
        splits = ", ".join(f"{k} {v}" for k, v in counts["by_split"].items())
        # Said either way, so nobody takes a gold set for every item by mistake.
        if "left_out_unresolved" in counts:
            unresolved = (
                f"{counts['left_out_unresolved']} left out with the key field "
                "unresolved: --include-unresolved adds them"
            )
        else:
            unresolved = f"{counts['key_unresolved']} with the key field unresolved"
        self.stdout.write(
            f"Exported {counts['rows']} gold rows of {project.name!r} to "
            f"{out} ({splits}; {unresolved}); manifest {manifest_path} "
            f"(sha256 {manifest['sha256'][:12]}...)."
        )
