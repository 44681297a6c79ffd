from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotate.management.commands._common import flags_error, project_by_name_or_id
from annotate.services.agreement import (
    agreement_report,
    agreement_request_parse,
)

# The flag of the one input named otherwise than its key.
FLAGS = {"source_model": "--model"}


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


class Command(BaseCommand):
    help = "Krippendorff's alpha per field and per class, with bootstrap intervals."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project name or id")
        parser.add_argument("--field", help="only this field")
        parser.add_argument("--format", choices=["table", "json"], default="table")
        parser.add_argument("--resamples", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--model", default="", help="source model")
        parser.add_argument("--dataset", default="")
        parser.add_argument("--category", default="", help='metadata["category"]')
        parser.add_argument("--since", help="first annotation day (YYYY-MM-DD)")
        parser.add_argument("--until", help="last annotation day (YYYY-MM-DD)")
        parser.add_argument(
            "--annotators", default="", help="usernames, comma-separated"
        )
        parser.add_argument(
            "--prelabels",
            choices=["seen", "unseen"],
            help="only annotations made with (seen) or without the model's pre-labels",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_name_or_id(options["project"])
        try:
            asked = agreement_request_parse(
                project=project, data={**options, "source_model": options["model"]}
            )
        except ValidationError as e:
            raise flags_error(e, FLAGS) from e
        try:
            report = agreement_report(
                project=project,
                filters=asked.filters,
                resamples=asked.resamples,
                seed=asked.seed,
                field_name=options["field"],
                now=timezone.now(),
            )
        except KeyError as e:
            raise CommandError(
                f"--field: {options['field']!r} is not a field of "
                f"{project.label_set_version}"
            ) from e
        if options["format"] == "json":
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write(self._table(report))

    def _table(self, report: dict[str, Any]) -> str:
        counts = report["counts"]
        lines = [
            f"{counts['annotations']} annotations of {counts['items']} items by "
            f"{counts['annotators']} annotators; 95% intervals from "
            f"{report['resamples']} bootstrap resamples of items (seed {report['seed']}).",
            "",
            f"{'field':<40} {'level':<9} {'alpha':>6}  {'95% CI':<15} "
            f"{'units':>6} {'pairable':>8} {'agree':>6}",
        ]

        def row(name: str, figure: dict[str, Any]) -> str:
            ci = figure["ci"]
            interval = f"[{_number(ci[0])}, {_number(ci[1])}]" if ci else "—"
            observed = figure["observed_agreement"]
            return (
                f"{name:<40} {figure['level']:<9} {_number(figure['alpha']):>6}  "
                f"{interval:<15} {figure['units']:>6} {figure['pairable']:>8} "
                f"{_number(observed * 100 if observed is not None else None, 1):>6}"
            )

        for field in report["fields"]:
            for figure in field["figures"]:
                lines.append(row(field["name"], figure))
            for cls in field["classes"]:
                lines.append(row(f"  {field['name']} = {cls['value']}", cls))
        return "\n".join(lines)
