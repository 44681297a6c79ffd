from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotate.management.commands._common import settings_from_flags
from annotate.models import GoldMethod, Project, QueueStrategy
from annotate.services.care import window_words
from annotate.services.projects import label_set_version_get, project_create
from labelsets.models import LabelSetVersion


class Command(BaseCommand):
    help = "Create a project labelled under a label set (the latest version unless --version)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--labelset", default="refusal-v1")
        parser.add_argument("--labelset-version", type=int, default=None)
        parser.add_argument(
            "--overlap", type=int, default=3, help="labels each item needs"
        )
        parser.add_argument("--lease-minutes", type=int, default=30)
        parser.add_argument(
            "--extra-labels",
            type=int,
            default=0,
            help="labels an item may get beyond --overlap when its labels disagree",
        )
        parser.add_argument(
            "--disagreement-threshold",
            type=float,
            default=0.35,
            help="above it (0..1, normalised entropy of the key field) labels disagree",
        )
        parser.add_argument(
            "--guidelines", help="a Markdown file shown beside the form"
        )
        parser.add_argument(
            "--strategy",
            choices=[s.value for s in QueueStrategy],
            default=QueueStrategy.HYBRID.value,
            help="the queue's order (hybrid: most informative first)",
        )
        parser.add_argument(
            "--queue-setting",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a queue setting, e.g. exploration=0.2 (see manage.py queue)",
        )
        parser.add_argument(
            "--gold-method",
            choices=[m.value for m in GoldMethod],
            default=GoldMethod.MAJORITY.value,
            help="how one-of fields aggregate to gold (weighted: Dawid-Skene)",
        )
        parser.add_argument(
            "--flagged-cap",
            type=int,
            default=None,
            help="items with a content warning an annotator labels in the window "
            "before the queue offers a break and serves only others (default: no cap)",
        )
        parser.add_argument(
            "--flagged-window-hours",
            type=float,
            default=4.0,
            help="the rolling window of --flagged-cap, in hours",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        guidelines = ""
        if options["guidelines"]:
            try:
                with open(options["guidelines"], encoding="utf-8") as f:
                    guidelines = f.read()
            except OSError as e:
                raise CommandError(f"--guidelines: {e}") from e
        try:
            project, version = self._create(options, guidelines)
        except ValidationError as e:
            raise CommandError("; ".join(e.messages)) from e
        cap = project.flagged_cap
        self.stdout.write(
            f"Created project {project.name!r} (id {project.pk}) with {version}, "
            f"overlap {project.overlap}"
            + (
                f", at most {cap} items with a content warning per annotator in "
                f"{window_words(project.flagged_window)}."
                if cap
                else "."
            )
        )

    def _create(
        self, options: dict[str, Any], guidelines: str
    ) -> tuple[Project, LabelSetVersion]:
        version = label_set_version_get(
            name=options["labelset"], number=options["labelset_version"]
        )
        project = project_create(
            now=timezone.now(),
            name=options["name"],
            label_set_version=version,
            overlap=options["overlap"],
            lease=timedelta(minutes=options["lease_minutes"]),
            guidelines=guidelines,
            extra_labels_max=options["extra_labels"],
            disagreement_threshold=options["disagreement_threshold"],
            gold_method=GoldMethod(options["gold_method"]),
            queue_strategy=QueueStrategy(options["strategy"]),
            queue_settings=settings_from_flags(options["queue_setting"]),
            flagged_cap=options["flagged_cap"],
            flagged_window=timedelta(hours=options["flagged_window_hours"]),
        )
        return project, version
