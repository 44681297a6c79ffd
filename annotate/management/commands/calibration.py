from __future__ import annotations

import csv
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotate.management.commands._common import project_by_name_or_id
from annotate.services.exports import calibration_breakdown_parse, calibration_report
from annotate.stats.calibration import report_csv_rows


class Command(BaseCommand):
    help = (
        "Per source model: over- and under-refusal rates with Wilson intervals, "
        "leakage, capitulation, inconsistency and mean quality, from the gold."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project name or id")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")
        parser.add_argument(
            "--breakdown",
            default="category",
            help="the transcript metadata key to break the figures down by",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_name_or_id(options["project"])
        try:
            report = calibration_report(
                project=project,
                now=timezone.now(),
                breakdown=calibration_breakdown_parse(options),
            )
        except ValidationError as e:
            raise CommandError(" ".join(e.messages)) from e
        if options["format"] == "json":
            self.stdout.write(json.dumps(report, indent=2))
            return
        writer = csv.writer(self.stdout, lineterminator="\n")
        for row in report_csv_rows(report):
            writer.writerow(row)
