from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotate import services
from annotate.models import Project, Role

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
PROJECT = "Refusal demo"
PASSWORD = "refusal-demo"  # noqa: S105 - demo accounts only, refused outside DEBUG
USERS = [
    ("mona", Role.MANAGER),
    ("rita", Role.REVIEWER),
    ("alice", Role.ANNOTATOR),
    ("bob", Role.ANNOTATOR),
    ("carol", Role.ANNOTATOR),
]


class Command(BaseCommand):
    help = "Load the demo project, its transcripts and demo logins (idempotent; DEBUG only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="load even with DEBUG off (known passwords!)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "The demo has known passwords: it loads only with DEBUG=true."
            )
        project = Project.objects.filter(name=PROJECT).first()
        if project is None:
            project = services.project_create(
                name=PROJECT,
                label_set_version=services.label_set_version_get(name="refusal-v1"),
                overlap=2,
                guidelines=(DEMO_DIR / "guidelines.md").read_text(encoding="utf-8"),
            )
        for username, role in USERS:
            services.membership_add(project=project, username=username, role=role)
            user = get_user_model().objects.get(username=username)
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        path = DEMO_DIR / "transcripts.jsonl"
        with path.open("rb") as stream:
            summary = services.transcripts_import(
                project=project, stream=stream, filename=path.name
            )
        self.stdout.write(
            f"Demo project {project.name!r}: {summary.imported} transcripts imported, "
            f"{summary.duplicates} already there.\n"
            "Open http://127.0.0.1:8000 and log in as (password for all: "
            f"{PASSWORD}):\n"
            + "\n".join(f"  {u:<6} {r.label.lower()}" for u, r in USERS)
        )
