"""Pre-labels: the model's suggestion shown to annotators, off by default,
never in a blind project, never a human label, and compared on the agreement
page."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotate.models import Annotation, Item, Job, JobKind, JobStatus, QueueStrategy
from annotate.services.agreement import agreement_report, agreement_request_parse
from annotate.services.jobs import job_run
from annotate.services.learning import (
    prelabels_shown,
    project_queue_configure,
    queue_settings_parse,
)
from tests.factories import ItemFactory, MembershipFactory, UserFactory, chat
from tests.labelling import claim, labels, new_annotator, submit

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def run_all() -> None:
    """Run the queued jobs here (a test's transaction never commits)."""
    for job in Job.objects.filter(status=JobStatus.QUEUED).order_by("pk"):
        job_run(job_id=job.pk, now=timezone.now)


def configure(project, **settings) -> None:
    project_queue_configure(
        project=project,
        strategy=QueueStrategy.HYBRID,
        settings={"exploration": 0.0, **settings},
        created_by=None,
        now=NOW,
    )
    run_all()
    project.refresh_from_db()


@pytest.fixture
def trained(project):
    """A hybrid project with a model: 40 labelled items (policy refusals and
    compliances) and 10 open ones."""
    project.overlap = 1
    project.save(update_fields=["overlap"])
    for k in range(50):
        ItemFactory(
            project=project,
            transcript__messages=chat("refused" if k % 2 == 0 else "complied"),
        )
    user = new_annotator(project, "teacher")
    configure(project, exploration=0.0)
    for _ in range(40):
        assignment = claim(user, project)
        refusing = "can't" in assignment.item.transcript.messages[1]["content"]
        submit(assignment, labels("policy" if refusing else "none"))
    Job.objects.create(project=project, kind=JobKind.RETRAIN, params={}, created_at=NOW)
    run_all()
    return project


def test_pre_labels_are_off_by_default_and_refused_in_a_blind_project(project):
    schema = project.label_set_version.schema
    assert queue_settings_parse(schema=schema, data={}).prelabels is False

    with pytest.raises(ValidationError) as e:
        queue_settings_parse(schema=schema, data={"prelabels": True})
    assert list(e.value.message_dict) == ["prelabels"]
    assert "blind" in e.value.message_dict["prelabels"][0]

    opened = queue_settings_parse(
        schema=schema, data={"prelabels": "true", "blind": "false"}
    )
    assert (opened.prelabels, opened.blind) == (True, False)
    with pytest.raises(ValidationError, match="true or false"):
        queue_settings_parse(schema=schema, data={"blind": "maybe"})


def test_a_project_that_shows_pre_labels_stores_what_each_annotator_saw(trained):
    configure(trained, prelabels=True, blind=False)
    assert prelabels_shown(trained)
    open_items = Item.objects.filter(project=trained, slots_left__gt=0)
    suggestions = [i.suggestion for i in open_items]
    assert all(s and set(s) >= {"refusal_type"} for s in suggestions)

    user = new_annotator(trained, "reader")
    assignment = claim(user, trained)
    item = Item.objects.get(pk=assignment.item_id)
    assert assignment.prelabels == item.suggestion
    before = item.annotations_count
    annotation = submit(assignment, labels("policy"))

    annotation.refresh_from_db()
    assert annotation.prelabels == item.suggestion
    assert annotation.is_human
    # The suggestion is no label: only the annotator's counts.
    assert Item.objects.get(pk=item.pk).annotations_count == before + 1
    assert not Annotation.objects.filter(item=item, is_human=False).exists()


def test_a_rescore_with_the_same_model_rewrites_no_item_but_one_changed(trained):
    configure(trained, prelabels=True, blind=False)
    stale = Item.objects.filter(project=trained, slots_left__gt=0).order_by("pk")[0]
    Item.objects.filter(pk=stale.pk).update(
        suggestion={"refusal_type": {"value": "x", "p": 1}}
    )

    with CaptureQueriesContext(connection) as ran:
        rescore = Job.objects.create(
            project=trained, kind=JobKind.RESCORE, params={}, created_at=NOW
        )
        job = job_run(job_id=rescore.pk, now=timezone.now)

    # The stored suggestions are JSON in the database's spelling, not ours:
    # only the tampered one differs, and only it is written back.
    assert job.result["items_changed"] == 1
    written = [
        q["sql"] for q in ran.captured_queries if "UPDATE annotate_item" in q["sql"]
    ]
    assert len(written) == 1
    stale.refresh_from_db()
    assert stale.suggestion
    assert stale.suggestion["refusal_type"]["value"] != "x"


def test_a_blind_project_shows_none_whatever_the_items_hold(trained):
    configure(trained, prelabels=True, blind=False)
    configure(trained, prelabels=False, blind=True)
    # Turning them off clears the suggestions at the rescore, and even a
    # stale one is never served.
    assert not Item.objects.filter(project=trained, suggestion__isnull=False).exists()
    Item.objects.filter(project=trained).update(
        suggestion={"refusal_type": {"value": "policy", "p": 0.9}}
    )

    assignment = claim(new_annotator(trained, "blind"), trained)

    assert assignment.prelabels is None
    assert submit(assignment, labels("none")).prelabels is None


def test_the_labelling_screen_marks_the_suggestion_in_the_options_words(
    client, trained
):
    configure(trained, prelabels=True, blind=False)
    user = UserFactory(username="viewer")
    MembershipFactory(user=user, project=trained)
    client.force_login(user)

    page = client.get(f"/projects/{trained.pk}/label/").content.decode()

    assert "Model suggestion" in page
    assert "not a person&#x27;s label" in page or "not a person's label" in page
    shown = [
        o.label
        for o in trained.label_set_version.schema.field("refusal_type").options
        if f"Model suggestion</span>\n          {o.label}," in page
    ]
    assert len(shown) == 1


def test_the_agreement_report_compares_those_who_saw_pre_labels(trained):
    configure(trained, prelabels=True, blind=False)
    trained.overlap = 2
    trained.save(update_fields=["overlap"])
    Item.objects.filter(project=trained, annotations_count=0).update(slots_left=2)
    a, b = new_annotator(trained, "sees1"), new_annotator(trained, "sees2")
    for user in (a, b):
        for _ in range(4):
            assignment = claim(user, trained)
            suggested = assignment.prelabels["refusal_type"]["value"]
            submit(assignment, labels(suggested))

    def report(**data):
        asked = agreement_request_parse(project=trained, data=data)
        return agreement_report(
            project=trained, filters=asked.filters, resamples=0, now=NOW
        )

    everyone = report()
    seen, unseen = report(prelabels="seen"), report(prelabels="unseen")

    assert seen["counts"]["annotations"] == 8
    assert unseen["counts"]["annotations"] == everyone["counts"]["annotations"] - 8
    by_field = {f["field"]: f for f in everyone["prelabels"]["fields"]}
    assert by_field["refusal_type"]["seen"] == 8
    assert by_field["refusal_type"]["chose_suggestion"] == 1.0
    assert unseen["prelabels"] is None
    with pytest.raises(ValidationError) as e:
        agreement_request_parse(project=trained, data={"prelabels": "sometimes"})
    assert list(e.value.message_dict) == ["prelabels"]
