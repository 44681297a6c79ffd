"""Fault drill: the Celery worker dies for good in the middle of a job
(issue 14).

An export and an import each start on a real worker (solo pool, Redis
broker, PostgreSQL), which is SIGKILLed once the job's progress passes 40%;
no worker comes back. Checked, through the page and the API as a manager
sees them (Django's test client, in this process): each job shows running
until its time limit (JOB_TIME_LIMIT_<KIND>, short here), then failed with
a message saying why, nothing of it kept (no transcript, no export file),
and the page offers to run it again. Both are run again (the page's button
for the import, the API for the export); then a worker comes back: the new
jobs succeed, the import from the same uploaded file, and the dead jobs'
tasks, which Redis hands out again, do nothing.

    python bench/faults/worker_gone.py [--quick]

Exits 1 if a job was left running, anything was half-kept, or a retry failed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.faults.drill import (  # noqa: E402
    Report,
    Worker,
    arguments,
    gold_everywhere,
    import_file,
    job_now,
    project_for_import,
    setup,
    wait_finished,
    wait_progress,
)

KINDS = ("agreement", "calibration", "retrain", "rescore")
OTHERS_LIMIT = 600


def both_killed_mid_job(
    env: dict[str, str], starts: tuple[Any, Any]
) -> list[tuple[int, int]]:
    """Two workers, a job started on each, each worker killed once its job
    passes 40%: [(job id, % reached)]. Two at once, each busy until killed:
    a worker that outlived the other would hand its job out again (after
    the visibility timeout), which is worker_kill.py's drill, not this."""
    workers = [Worker(env, "gone-a"), Worker(env, "gone-b")]
    jobs: list[tuple[int, Worker]] = []
    for start in starts:
        job_id = start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            taken = [
                w for w in workers if w.received() and w not in dict(jobs).values()
            ]
            if taken:
                jobs.append((job_id, taken[0]))
                break
            time.sleep(0.05)
        else:
            sys.exit(f"no worker took job {job_id}")
    found = []
    for job_id, worker in jobs:
        found.append((job_id, wait_progress(job_id, 40, timeout=120)))
        worker.kill()
    return found


def main() -> None:
    args = arguments(__doc__)
    rows, items, limit = (60_000, 20_000, 20) if args.quick else (300_000, 100_000, 60)
    env = setup(
        args,
        {"import": limit, "export": limit, **dict.fromkeys(KINDS, OTHERS_LIMIT)},
    )
    from django.test import Client
    from django.utils import timezone

    from annotate.models import Job, Project, Role, Transcript
    from annotate.services.exports import (
        export_card_path,
        export_options_parse,
        export_paths,
    )
    from annotate.services.jobs import export_job_create, import_job_create
    from annotate.services.members import membership_ensure
    from bench.active_learning import project_ensure

    report = Report()
    exported = Project.objects.get(pk=project_ensure(items)[0])
    gold = gold_everywhere(exported.pk)
    tag = f"gone{time.time_ns()}"
    imported, manager = project_for_import(f"drill {tag}")
    membership_ensure(
        actor=None,
        project=exported,
        username=manager.username,
        role=Role.MANAGER,
        now=timezone.now(),
    )
    path = Path(env["VAR_DIR"]) / "drill.jsonl"
    import_file(path, rows, tag)

    def start_export() -> int:
        return export_job_create(
            project=exported,
            options=export_options_parse({"format": "jsonl"}),
            created_by=manager,
            now=timezone.now(),
        ).pk

    def start_import() -> int:
        with path.open("rb") as upload:
            return import_job_create(
                project=imported,
                upload=upload,
                filename="drill.jsonl",
                fmt=None,
                created_by=manager,
                now=timezone.now(),
            ).pk

    (export_id, export_percent), (import_id, import_percent) = both_killed_mid_job(
        env, (start_export, start_import)
    )
    report.note(
        f"export of {gold} rows killed at {export_percent}%, import of {rows} rows "
        f"at {import_percent}%; no worker left; time limit {limit} s"
    )

    client = Client()
    client.force_login(manager)
    early = [
        client.get(f"/api/jobs/{i}/").json()["status"] for i in (export_id, import_id)
    ]
    report.check(
        early == ["running", "running"],
        f"before the time limit both are shown {' and '.join(early)}, not failed",
    )
    started = [Job.objects.get(pk=i).started_at for i in (export_id, import_id)]
    last = max(t for t in started if t is not None)
    time.sleep(max(0.0, (last - timezone.now()).total_seconds() + limit + 1))

    polled = client.get(f"/api/jobs/{export_id}/").json()
    report.check(
        polled["status"] == "failed" and "time limit" in " ".join(polled["errors"]),
        f"export: the API shows it {polled['status']}: {polled['errors'][:1]}",
    )
    page = client.get(f"/jobs/{import_id}/").content.decode()
    button = f'action="/jobs/{import_id}/retry/"' in page and "Run it again" in page
    report.check(
        "Failed" in page and button,
        "import: the page shows it failed, with a Run it again button",
    )
    dead = {i: Job.objects.get(pk=i) for i in (export_id, import_id)}
    report.check(
        all(j.status == "failed" and j.finished_at for j in dead.values()),
        "both marked failed in the database, never left running",
    )
    data, manifest = export_paths(dead[export_id])
    left = [p.name for p in data.parent.glob("*")] if data.parent.exists() else []
    report.check(
        not left, f"export: no file kept, whole or half ({left or 'directory empty'})"
    )
    upload = Path(str(dead[import_id].params["path"]))
    report.check(
        Transcript.objects.filter(project=imported).count() == 0 and upload.exists(),
        "import: no transcript kept; its uploaded file kept for a retry",
    )

    r = client.post(f"/jobs/{import_id}/retry/")
    import_again = (
        int(r["Location"].strip("/").split("/")[-1]) if r.status_code == 302 else 0
    )
    r = client.post(f"/api/jobs/{export_id}/retry/")
    export_again = r.json()["id"] if r.status_code == 202 else 0
    if not report.check(
        bool(import_again and export_again),
        f"run again: the page's button made job {import_again}, the API job {export_again}",
    ):
        report.end("worker_gone")

    worker = Worker(env, "back")
    try:
        done = {i: wait_finished(i, 240) for i in (export_again, import_again)}
        report.check(
            done[import_again].status == "succeeded"
            and Transcript.objects.filter(project=imported).count() == rows,
            f"import run again: {done[import_again].status}, "
            f"{Transcript.objects.filter(project=imported).count()} of {rows} "
            "transcripts, from the same upload",
        )
        again_data = export_paths(done[export_again])[0]
        report.check(
            done[export_again].status == "succeeded"
            and done[export_again].result.get("rows") == gold
            and again_data.exists()
            and export_card_path(done[export_again]).exists(),
            f"export run again: {done[export_again].status}, "
            f"{done[export_again].result.get('rows')} of {gold} rows",
        )
        # The dead runs' tasks come back after the visibility timeout.
        deadline = time.monotonic() + 60
        while worker.received() < 4 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)
        after = {i: job_now(i) for i in dead}
        report.check(
            worker.received() >= 4
            and all(
                after[i].status == "failed"
                and after[i].finished_at == dead[i].finished_at
                for i in dead
            ),
            f"the dead jobs' tasks handed out again ({worker.received() - 2} of 2) "
            "did nothing: both still failed as they were",
        )
        report.check(
            Transcript.objects.filter(project=imported).count() == rows,
            "import: still each transcript once",
        )
    finally:
        worker.stop()
    report.end("worker_gone")


if __name__ == "__main__":
    main()
