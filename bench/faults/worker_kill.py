"""Fault drill: `kill -9` of the Celery worker in the middle of an import, an
export and a retrain (issue 14).

For each job: start it on a real worker (solo pool, Redis broker,
PostgreSQL), wait until its progress passes 40%, SIGKILL the worker (no warm
shutdown, so the task stays unacknowledged: acks_late), check what is
visible while no worker runs it, start a new worker, and check that Redis
handed the job out again (after the visibility timeout) and that it
finished once: the import's transcripts all there and each once, the
export's files whole and offered only once the job succeeded, every open
item rescored by the retrain. Then the succeeded job's task is sent again,
and must do nothing.

    python bench/faults/worker_kill.py [--quick]

Exits 1 if anything was lost, doubled or left running.
"""

from __future__ import annotations

import sys
import time
from hashlib import sha256
from pathlib import Path

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

KINDS = ("import", "export", "agreement", "calibration", "retrain", "rescore")
# A job is given up as stale only after this: the redelivery must come first.
TIME_LIMIT = 600
# Generous: a new worker starts (a few s), looks for lost tasks (every 10 s),
# and runs the job from the start.
RECOVERY_TIMEOUT = 240


def sent_again(worker: Worker, job_id: int) -> bool:
    """Send a succeeded job's task again and wait until the worker has run
    it to its end; whether the job is as it was (not started again)."""
    from annotate import tasks

    before = job_now(job_id)
    ran = worker.finished()
    tasks.job_run.delay(job_id=job_id)
    deadline = time.monotonic() + 120
    while worker.finished() == ran and time.monotonic() < deadline:
        time.sleep(0.2)
    after = job_now(job_id)
    return bool(
        worker.finished() > ran
        and after.status == "succeeded"
        and (after.started_at, after.finished_at)
        == (before.started_at, before.finished_at)
    )


def drill_import(
    worker: Worker, env: dict[str, str], rows: int, report: Report
) -> Worker:
    from django.utils import timezone

    from annotate.models import Job, Transcript
    from annotate.services.jobs import import_job_create

    base = worker.received()
    tag = f"kill{time.time_ns()}"
    project, manager = project_for_import(f"drill {tag}")
    path = Path(env["VAR_DIR"]) / "drill.jsonl"
    import_file(path, rows, tag)
    with path.open("rb") as upload:
        job = import_job_create(
            project=project,
            upload=upload,
            filename="drill.jsonl",
            fmt=None,
            created_by=manager,
            now=timezone.now(),
        )
    percent = wait_progress(job.pk, 40, timeout=120)
    worker.kill()
    killed = time.monotonic()
    time.sleep(1)  # PostgreSQL notices the closed connection, rolls back
    stored = Transcript.objects.filter(project=project).count()
    report.check(
        stored == 0,
        f"import: killed at {percent}% of {rows} rows; {stored} transcripts "
        "committed while no worker runs it (one transaction)",
    )
    report.check(
        Job.objects.get(pk=job.pk).status == "running",
        "import: shown running meanwhile, not failed",
    )
    new = Worker(env, "import-b")
    done = wait_finished(job.pk, RECOVERY_TIMEOUT)
    took = time.monotonic() - killed
    stored = Transcript.objects.filter(project=project).count()
    distinct = (
        Transcript.objects.filter(project=project)
        .values("content_hash")
        .distinct()
        .count()
    )
    report.check(
        done.status == "succeeded" and done.result.get("imported") == rows,
        f"import: redelivered, {done.status} {took:.0f} s after the kill "
        f"(handed out {worker.received() - base + new.received()} times)",
    )
    report.check(
        stored == distinct == rows,
        f"import: {stored} of {rows} transcripts stored, {distinct} distinct",
    )
    report.check(
        not Path(str(done.params["path"])).exists(), "import: its upload deleted"
    )
    report.check(
        sent_again(new, job.pk)
        and Transcript.objects.filter(project=project).count() == rows,
        "import: its task sent again once succeeded: nothing done",
    )
    return new


def drill_export(
    worker: Worker, env: dict[str, str], project_id: int, report: Report
) -> Worker:
    from django.http import Http404
    from django.utils import timezone

    from annotate.http import export_download
    from annotate.models import Project
    from annotate.services.exports import (
        export_card_path,
        export_options_parse,
        export_paths,
    )
    from annotate.services.jobs import export_job_create

    def offered(job_id: int) -> bool:
        try:
            export_download(job_now(job_id), "data").close()
        except Http404:
            return False
        return True

    base = worker.received()
    rows = gold_everywhere(project_id)
    job = export_job_create(
        project=Project.objects.get(pk=project_id),
        options=export_options_parse({"format": "jsonl", "annotations": True}),
        created_by=None,
        now=timezone.now(),
    )
    percent = wait_progress(job.pk, 40, timeout=120)
    worker.kill()
    killed = time.monotonic()
    data, manifest = export_paths(job)
    files = [data, manifest, export_card_path(job)]
    final = [p.name for p in files if p.exists()]
    parts = sorted(p.name for p in data.parent.glob("*.part"))
    report.check(
        not final,
        f"export: killed at {percent}% of {rows} rows; files by their final "
        f"name: {final or 'none'} (half-written: {', '.join(parts) or 'none'})",
    )
    report.check(not offered(job.pk), "export: no download offered while it runs")
    new = Worker(env, "export-b")
    done = wait_finished(job.pk, RECOVERY_TIMEOUT)
    took = time.monotonic() - killed
    report.check(
        done.status == "succeeded" and done.result.get("rows") == rows,
        f"export: redelivered, {done.status} {took:.0f} s after the kill with "
        f"{done.result.get('rows')} of {rows} rows "
        f"(handed out {worker.received() - base + new.received()} times)",
    )
    whole = data.exists() and sha256(data.read_bytes()).hexdigest() == done.result.get(
        "sha256"
    )
    lines = data.read_bytes().count(b"\n") if data.exists() else 0
    report.check(
        whole and lines == rows and all(p.exists() for p in files),
        f"export: data ({lines} lines, sha256 as the manifest's), manifest and card written",
    )
    report.check(
        not list(data.parent.glob("*.part")), "export: no half-written file left"
    )
    report.check(offered(job.pk), "export: offered for download once succeeded")
    stamp = data.stat().st_mtime_ns
    report.check(
        sent_again(new, job.pk) and data.stat().st_mtime_ns == stamp,
        "export: its task sent again once succeeded: nothing rewritten",
    )
    return new


def drill_retrain(
    worker: Worker, env: dict[str, str], project_id: int, report: Report
) -> Worker:
    from django.utils import timezone

    from annotate.models import Item, JobKind, Project, QueueModel
    from annotate.services.learning import queue_job_create
    from bench.active_learning import jobs_clear

    base = worker.received()
    jobs_clear(project_id)  # a retrain an earlier, interrupted drill left live
    project = Project.objects.get(pk=project_id)
    models = QueueModel.objects.filter(project=project)
    before = models.count()
    job = queue_job_create(
        project=project, kind=JobKind.RETRAIN, created_by=None, now=timezone.now()
    )
    percent = wait_progress(job.pk, 40, timeout=180)
    worker.kill()
    killed = time.monotonic()
    new = Worker(env, "retrain-b")
    done = wait_finished(job.pk, RECOVERY_TIMEOUT)
    took = time.monotonic() - killed
    open_items = Item.objects.filter(project=project, slots_left__gt=0).count()
    report.check(
        done.status == "succeeded" and done.result.get("items_scored") == open_items,
        f"retrain: killed at {percent}% of its rescore, redelivered, {done.status} "
        f"{took:.0f} s after the kill; {done.result.get('items_scored')} of "
        f"{open_items} open items rescored "
        f"(handed out {worker.received() - base + new.received()} times)",
    )
    latest = models.order_by("-version").first()
    report.check(
        latest is not None and done.result.get("model") == latest.version,
        f"retrain: the queue ranks by the rerun's model (v{done.result.get('model')}); "
        f"{models.count() - before} model(s) stored, the killed run's included",
    )
    report.check(
        sent_again(new, job.pk) and models.count() - before <= 2,
        "retrain: its task sent again once succeeded: nothing done",
    )
    return new


def main() -> None:
    args = arguments(__doc__)
    import_rows, items = (60_000, 20_000) if args.quick else (300_000, 100_000)
    env = setup(args, dict.fromkeys(KINDS, TIME_LIMIT))
    from bench.active_learning import project_ensure

    report = Report()
    project_id, _ = project_ensure(items)
    worker = Worker(env, "import-a")
    try:
        worker = drill_import(worker, env, import_rows, report)
        worker = drill_export(worker, env, project_id, report)
        worker = drill_retrain(worker, env, project_id, report)
    finally:
        worker.stop()
    report.end("worker_kill")


if __name__ == "__main__":
    main()
