"""The active-learning queue: strategies, the exploration sample, the model's
jobs and their failures, through the services."""

from __future__ import annotations

import itertools
import math
from datetime import timedelta

import factory
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotate import tasks
from annotate.models import (
    Assignment,
    Item,
    Job,
    JobKind,
    JobStatus,
    Project,
    QueueModel,
    QueueStrategy,
)
from annotate.services.jobs import job_run
from annotate.services.learning import (
    project_queue_configure,
    queue_job_create,
    queue_retrain_due,
    queue_settings_parse,
)
from annotate.services.queue import assignment_skip
from tests.factories import ItemFactory, ProjectFactory, chat, items_bulk
from tests.labelling import claim, labels, new_annotator, submit

pytestmark = pytest.mark.django_db

NOW = timezone.now()


_probes = itertools.count()


def rescore(project) -> Job:
    """Queue a rescore and run it here (tasks are queued on commit, which a
    test's transaction never reaches)."""
    job = queue_job_create(
        project=project, kind=JobKind.RESCORE, created_by=None, now=NOW
    )
    job = job_run(job_id=job.pk, now=timezone.now)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    return job


def configure(project, strategy: str, **settings) -> None:
    job = project_queue_configure(
        project=project,
        strategy=QueueStrategy(strategy),
        settings=settings,
        created_by=None,
        now=NOW,
    )
    assert job_run(job_id=job.pk, now=timezone.now).status == JobStatus.SUCCEEDED
    project.refresh_from_db()


def order_served(project, n: int) -> list[int]:
    """The items one annotator is served, in order (each skipped so the next comes)."""
    user = new_annotator(project, f"probe{next(_probes)}")
    served = []
    for _ in range(n):
        assignment = claim(user, project)
        if assignment is None:
            break
        served.append(assignment.item_id)
        assignment_skip(assignment=assignment, reason="", now=NOW)
    return served


def test_sequential_serves_import_order():
    project = ProjectFactory(overlap=1, queue_strategy="sequential")
    items = ItemFactory.create_batch(5, project=project)
    rescore(project)

    assert order_served(project, 5) == [i.pk for i in items]


def test_random_is_seeded_reproducible_and_not_import_order():
    project = ProjectFactory(overlap=1, queue_strategy="random")
    items = [i.pk for i in ItemFactory.create_batch(30, project=project)]
    orders = []
    for seed in (7, 7, 8):
        configure(project, "random", seed=seed)
        orders.append(order_served(project, 30))

    assert orders[0] == orders[1]
    assert orders[0] != orders[2]
    assert orders[0] != items
    assert sorted(orders[0]) == items


def test_before_any_model_the_heuristic_puts_the_unclear_response_first():
    project = ProjectFactory(overlap=1)
    clear = ItemFactory(project=project, transcript__messages=chat())
    unclear = ItemFactory(
        project=project,
        transcript__messages=chat(
            answer="I can't give you the exact amounts, but here is how the process works "
            "in general: first you ..."
        ),
    )
    configure(project, "uncertainty", exploration=0.0)

    assert order_served(project, 2) == [unclear.pk, clear.pk]


def test_hybrid_asks_for_a_label_where_labels_disagree_before_a_new_item():
    project = ProjectFactory(overlap=2, extra_labels_max=1)
    split = ItemFactory(project=project, transcript__messages=chat())
    fresh = ItemFactory(project=project, transcript__messages=chat())
    first, second = new_annotator(project, "a1"), new_annotator(project, "a2")
    submit(claim(first, project), labels("policy"))
    submit(claim(second, project), labels("capability"))
    Item.objects.filter(pk=split.pk).update(slots_left=1)  # as item_rescore grants
    configure(project, "hybrid", exploration=0.0)

    assert order_served(project, 2) == [split.pk, fresh.pk]


def test_hybrid_lifts_a_source_model_below_its_coverage_floor():
    project = ProjectFactory(overlap=1)
    covered = ItemFactory.create_batch(
        3,
        project=project,
        transcript__source_model="seen",
        transcript__messages=factory.LazyFunction(chat),
    )
    starved = ItemFactory(
        project=project,
        transcript__source_model="unseen",
        transcript__messages=chat(),
    )
    submit(claim(new_annotator(project, "a1"), project), labels("policy"))
    assert Item.objects.get(pk=covered[0].pk).annotations_count == 1
    configure(project, "hybrid", exploration=0.0, coverage_floor=0.2)

    assert order_served(project, 1) == [starved.pk]


def test_exploration_serves_its_share_of_claims_from_the_sample_only():
    project = ProjectFactory(overlap=1)
    items_bulk(project, 1200)
    configure(project, "hybrid", exploration=0.1)
    user = new_annotator(project, "explorer")

    chosen = []
    for _ in range(1000):
        assignment = claim(user, project)
        chosen.append(assignment)
        assignment_skip(assignment=assignment, reason="", now=NOW)

    explored = [a for a in chosen if a.chosen_by == "explore"]
    # Binomial(1000, 0.1): 99.9% of draws fall within 3.3 standard deviations.
    assert abs(len(explored) - 100) <= 3.3 * math.sqrt(1000 * 0.1 * 0.9)
    sample = set(
        Item.objects.filter(project=project, audit=True).values_list("pk", flat=True)
    )
    assert {a.item_id for a in explored} <= sample
    assert not {a.item_id for a in chosen if a.chosen_by == "queue"} & sample
    assert abs(len(sample) - 120) <= 3.3 * math.sqrt(1200 * 0.1 * 0.9)
    stored = Assignment.objects.filter(chosen_by="explore").values_list(
        "probability", flat=True
    )
    assert set(stored) == {0.1}


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"exploration": 0.9}, "exploration"),
        ({"weight_relabel": -1}, "weight_relabel"),
        ({"target_fields": "nope"}, "target_fields"),
        ({"target_fields": "failure_modes"}, "target_fields"),  # a multi field
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(project, given, named):
    with pytest.raises(ValidationError) as e:
        queue_settings_parse(schema=project.label_set_version.schema, data=given)

    assert list(e.value.message_dict) == [named]
    assert named in e.value.message_dict[named][0]


def test_a_second_request_while_one_is_queued_joins_it(project):
    queued = Job.objects.create(
        project=project, kind=JobKind.RETRAIN, params={}, created_at=NOW
    )

    again = queue_job_create(
        project=project, kind=JobKind.RETRAIN, created_by=None, now=NOW
    )

    assert again.pk == queued.pk
    assert Job.objects.filter(kind=JobKind.RETRAIN).count() == 1


def retrain_ended(project, *, at) -> None:
    """A retrain of the project that succeeded, ending `at`."""
    Job.objects.create(
        project=project,
        kind=JobKind.RETRAIN,
        status=JobStatus.SUCCEEDED,
        created_at=at - timedelta(seconds=20),
        finished_at=at,
    )


def test_an_automatic_retrain_waits_for_the_last_to_rest_then_beat_starts_it(project):
    project.queue_settings = {"retrain_rest_seconds": 120}
    project.save()
    now = timezone.now()
    retrain_ended(project, at=now - timedelta(seconds=30))

    # The every-N-labels task and beat's sweep, 30 s after the last ended.
    tasks.queue_retrain(project.pk)
    assert queue_retrain_due(now=now) == 0
    assert Job.objects.filter(status=JobStatus.QUEUED).count() == 0

    # Rested: the sweep starts it.
    assert queue_retrain_due(now=now + timedelta(seconds=91)) == 1
    assert (
        Job.objects.filter(status=JobStatus.QUEUED, kind=JobKind.RETRAIN).count() == 1
    )


def test_a_retrain_by_hand_does_not_wait_for_the_rest(project):
    retrain_ended(project, at=NOW)

    job = queue_job_create(
        project=project, kind=JobKind.RETRAIN, created_by=None, now=NOW
    )

    assert job.status == JobStatus.QUEUED


def test_a_retrain_with_one_class_keeps_the_previous_model_and_says_so(project):
    ItemFactory.create_batch(
        40, project=project, transcript__messages=factory.LazyFunction(chat)
    )
    project.overlap = 1
    project.save(update_fields=["overlap"])
    previous = QueueModel.objects.create(
        project=project,
        version=1,
        created_at=NOW,
        strategy="hybrid",
        macro_f1=0.7,
        fields={
            "refusal_type": {
                "classes": ["none", "policy"],
                "n_train": 40,
                "cv_macro_f1": 0.7,
            }
        },
    )
    user = new_annotator(project, "mono")
    for _ in range(35):
        submit(claim(user, project), labels("policy"))

    job = Job.objects.create(
        project=project, kind=JobKind.RETRAIN, params={}, created_at=NOW
    )
    job = job_run(job_id=job.pk, now=timezone.now)

    assert job.status == JobStatus.SUCCEEDED
    assert job.result["kept_previous"] is True
    assert "only one class" in job.result["note"]
    assert QueueModel.objects.filter(project=project).count() == 1
    assert previous.pk == QueueModel.objects.get(project=project).pk


def test_a_model_that_fails_to_load_leaves_the_priorities_and_says_a_retrain_is_needed(
    project, client, manager
):
    items = ItemFactory.create_batch(3, project=project)
    Item.objects.filter(pk=items[1].pk).update(priority=5.0)
    QueueModel.objects.create(
        project=project,
        version=1,
        created_at=NOW,
        strategy="hybrid",
        artefact=b"not a model",
    )

    rescore(project)
    client.force_login(manager)
    page = client.get(f"/projects/{project.pk}/")

    assert Item.objects.get(pk=items[1].pk).priority == 5.0
    assert QueueModel.objects.get(project=project).load_error
    assert "keeps its previous order until a retrain" in page.content.decode()


def test_rescoring_ten_thousand_items_takes_a_bounded_number_of_queries(
    django_assert_max_num_queries,
):
    project = ProjectFactory(overlap=1, queue_strategy="random")
    items_bulk(project, 10_000)

    with django_assert_max_num_queries(40):
        rescore(project)

    assert Item.objects.filter(project=project, priority=0).count() < 5


def test_a_rescore_rewrites_only_the_items_whose_priority_changed():
    project = ProjectFactory(overlap=1, queue_strategy="random")
    items_bulk(project, 30)
    rescore(project)
    moved = Item.objects.filter(project=project).order_by("pk")[3]
    kept = Item.objects.get(pk=moved.pk).priority
    Item.objects.filter(pk=moved.pk).update(priority=kept + 1)

    with CaptureQueriesContext(connection) as ran:
        job = rescore(project)

    assert job.result["items_scored"] == 30
    assert job.result["items_changed"] == 1
    written = [
        q["sql"] for q in ran.captured_queries if "UPDATE annotate_item" in q["sql"]
    ]
    assert len(written) == 1
    assert Item.objects.get(pk=moved.pk).priority == kept


def test_the_sample_is_served_even_when_no_claim_explores():
    project = ProjectFactory(overlap=1)
    items_bulk(project, 40)
    configure(project, "hybrid", exploration=0.5)
    assert Item.objects.filter(project=project, audit=True).exists()
    # As a project row read before the sample was drawn: its claims never
    # explore, and the sample's items must still come when the rest is done.
    Project.objects.filter(pk=project.pk).update(audit_open=0)

    assert len(order_served(project, 50)) == 40
