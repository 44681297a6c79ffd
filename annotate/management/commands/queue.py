from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotate.management.commands._common import (
    project_by_name_or_id,
    settings_from_flags,
)
from annotate.models import JobKind, QueueModel, QueueStrategy
from annotate.services.learning import (
    QueueSettings,
    project_queue_configure,
    queue_job_create,
    queue_settings_of,
)


class Command(BaseCommand):
    help = (
        "Show or change a project's queue: its strategy, its settings and its "
        "model; --retrain trains and rescores now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project name or id")
        parser.add_argument("--strategy", choices=[s.value for s in QueueStrategy])
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=f"a setting: {', '.join(QueueSettings.__dataclass_fields__)}",
        )
        parser.add_argument("--retrain", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_by_name_or_id(options["project"])
        now = timezone.now()
        if options["strategy"] or options["set"]:
            try:
                job = project_queue_configure(
                    project=project,
                    strategy=QueueStrategy(
                        options["strategy"] or project.queue_strategy
                    ),
                    settings=settings_from_flags(options["set"]),
                    created_by=None,
                    now=now,
                )
            except ValidationError as e:
                raise CommandError("; ".join(e.messages)) from e
            self.stdout.write(f"Rescoring the queue: job {job.pk} ({job.status}).")
        if options["retrain"]:
            job = queue_job_create(
                project=project, kind=JobKind.RETRAIN, created_by=None, now=now
            )
            job.refresh_from_db()
            self.stdout.write(f"Retraining: job {job.pk} ({job.status}).")
        project.refresh_from_db()
        self.stdout.write(f"Strategy: {project.queue_strategy}")
        for name, value in vars(queue_settings_of(project)).items():
            self.stdout.write(f"  {name} = {value}")
        model = QueueModel.objects.filter(project=project).order_by("-version").first()
        if model is None:
            self.stdout.write("No model yet.")
            return
        kind = "refusal-phrase heuristic" if model.heuristic else "model"
        f1 = "—" if model.macro_f1 is None else f"{model.macro_f1:.3f}"
        self.stdout.write(
            f"Model {model.version} ({kind}): {model.labels_used} labels, "
            f"cross-validated macro-F1 {f1}, {model.items_scored} items scored."
            + (f" {model.note}" if model.note else "")
            + (f" Needs a retrain: {model.load_error}" if model.load_error else "")
        )
