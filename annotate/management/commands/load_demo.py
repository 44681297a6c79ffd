from __future__ import annotations

import random
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from annotate.models import Annotation, Membership, Project, Role, Transcript
from annotate.services.care import project_care_set
from annotate.services.imports import transcripts_import
from annotate.services.members import membership_ensure
from annotate.services.projects import (
    label_set_version_get,
    project_create,
)
from annotate.services.quality import project_quality_set
from annotate.services.queue import annotation_submit, assignment_skip, item_claim_next

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
# bob and carol have labelled this many items already, so the agreement page
# has figures and alice still has a queue; carol slips more often than bob.
LABELLED = 120
SLIPS = [("bob", 0.1), ("carol", 0.25)]
QUALITY = ("acknowledge", "explain", "redirect", "respect")
REFUSAL_TYPES = ("none", "policy", "capability", "scope", "conditional")


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
        created = project is None
        if project is None:
            project = project_create(
                now=timezone.now(),
                name=PROJECT,
                label_set_version=label_set_version_get(name="refusal-v1"),
                overlap=2,
                guidelines=(DEMO_DIR / "guidelines.md").read_text(encoding="utf-8"),
            )
            # The demo's rows carry their expected labels (metadata._expected),
            # so every item is also a gold question; none is mixed into the
            # queue, so bob's and carol's labels below are all labels (a
            # manager turns the share on from the quality page).
            project_quality_set(
                now=timezone.now(),
                actor=None,
                project=project,
                check_rate=0.0,
                qualification_size=0,
                qualification_pass=0.8,
                pause_below=None,
                pause_window=20,
            )
        for username, role in USERS:
            membership_ensure(
                actor=None,
                now=timezone.now(),
                project=project,
                username=username,
                role=role,
            )
            user = get_user_model().objects.get(username=username)
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        path = DEMO_DIR / "transcripts.jsonl"
        with path.open("rb") as stream:
            summary = transcripts_import(
                now=timezone.now(), project=project, stream=stream, filename=path.name
            )
        labelled = _label_as_bob_and_carol(project)
        if created:  # after bob and carol, whose labels the cap would steer
            project_care_set(
                now=timezone.now(),
                actor=None,
                project=project,
                flagged_cap=3,
                flagged_window=timedelta(hours=4),
            )
        self.stdout.write(
            f"Demo project {project.name!r}: {summary.imported} transcripts imported, "
            f"{summary.duplicates} already there; {labelled} labels by bob and carol.\n"
            "Open http://127.0.0.1:8000 and log in as (password for all: "
            f"{PASSWORD}):\n"
            + "\n".join(f"  {u:<6} {r.label.lower()}" for u, r in USERS)
        )


def _label_as_bob_and_carol(project: Project) -> int:
    """bob and carol label the first LABELLED items of their queues, through
    the same services as the labelling screen: each item's expected labels
    (hidden metadata), a field changed now and then. Once only."""
    if Annotation.objects.filter(item__project=project).exists():
        return 0
    rng = random.Random(7)  # noqa: S311 - demo data, not a secret
    expected = {
        pk: meta.get("_expected") or {}
        for pk, meta in Transcript.objects.filter(project=project).values_list(
            "pk", "metadata"
        )
    }
    now = timezone.now()
    stored = 0
    for username, slip in SLIPS:
        membership = Membership.objects.select_related(
            "project__label_set_version"
        ).get(project=project, user__username=username)
        for _ in range(LABELLED):
            claim = item_claim_next(membership=membership, now=now)
            if claim is None:
                break
            wanted = expected[claim.item_id]
            for chance in (slip, 0.0):  # a slip that breaks a rule is not made
                try:
                    annotation_submit(
                        assignment=claim,
                        values=_demo_values(wanted, rng, chance),
                        client_uuid=uuid.uuid4(),
                        seconds=rng.uniform(8, 90),
                        now=now,
                    )
                except ValidationError:
                    continue
                stored += 1
                break
            else:  # expected labels the rules refuse: left for alice
                assignment_skip(
                    assignment=claim, reason="demo: labels break a rule", now=now
                )
    return stored


def _demo_values(
    expected: dict[str, Any], rng: random.Random, slip: float
) -> dict[str, Any]:
    values = dict(expected)
    if rng.random() < slip:
        values["refusal_type"] = rng.choice(REFUSAL_TYPES)
    if values.get("refusal_type", "none") != "none":
        # Preachy, exaggerated refusals explain and respect poorly.
        poor = "exaggerated_refusal" in values.get("failure_modes", [])
        for name in QUALITY:
            base = 2 if poor and name in ("explain", "respect") else 4
            if rng.random() < 2 * slip:
                base += rng.choice((-1, 1))
            values[name] = min(5, max(1, base))
    return values
