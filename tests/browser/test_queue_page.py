"""The project page's queue section in a real browser: the current model, its
figures in the screen's words, the learning curve, and a retrain on demand."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import ConsoleMessage, Page, expect

from annotate.models import Job, JobKind, JobStatus, QueueModel
from annotate.services.jobs import job_run
from tests.browser.test_manager_pages import log_in
from tests.factories import ItemFactory, chat
from tests.labelling import claim, labels, new_annotator, submit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def retrain(project) -> None:
    job = Job.objects.create(
        project=project, kind=JobKind.RETRAIN, params={}, created_at=timezone.now()
    )
    assert job_run(job_id=job.pk, now=timezone.now).status == JobStatus.SUCCEEDED


def test_a_manager_sees_the_model_and_its_learning_curve_and_retrains(
    page: Page, live_server, project, manager
):
    project.overlap = 1
    project.save(update_fields=["overlap"])
    for k in range(70):
        ItemFactory(
            project=project,
            transcript__messages=chat("refused" if k % 2 == 0 else "complied"),
        )
    teacher = new_annotator(project, "teacher")
    for batch in (34, 16):
        for _ in range(batch):
            assignment = claim(teacher, project)
            refusing = "can't" in assignment.item.transcript.messages[1]["content"]
            submit(assignment, labels("policy" if refusing else "none"))
        retrain(project)
    trained = QueueModel.objects.filter(project=project, heuristic=False)
    latest = trained.latest("version")
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":  # a CSP violation shows here
            errors.append(message.text)

    page.on("console", on_console)

    log_in(page, live_server.url, "mona")
    page.goto(f"{live_server.url}/projects/{project.pk}/")

    queue = page.get_by_role("region", name="Queue")
    expect(queue).to_contain_text("Most informative first")
    expect(queue.locator("#queue-model")).to_contain_text(
        f"Model {latest.version}: trained on 50 labels"
    )
    # Figures per target field, named as the labelling screen names them.
    expect(queue.locator("#queue-model")).to_contain_text("Refusal type")
    expect(queue.locator("#queue-model")).not_to_contain_text("refusal_type")
    curve = page.get_by_role("img", name="Learning curve: macro-F1 against labels")
    expect(curve).to_be_visible()
    assert curve.locator("circle").count() == trained.count() >= 2

    page.get_by_role("button", name="Retrain and rescore now").click()

    # Without a broker the job runs in the request; its page shows its result.
    expect(page.get_by_text("Succeeded")).to_be_visible()
    assert trained.latest("version").version == latest.version + 1
    assert errors == []
