"""Projects from the managers' workspace: who creates them, how their settings
change without breaking what exists, and archiving."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from annotate.models import (
    Gold,
    GoldMethod,
    Item,
    Membership,
    Project,
    QueueStrategy,
    Role,
)
from annotate.services.projects import (
    ProjectSettings,
    project_create,
    project_update,
)
from labelsets.services import labelset_load
from tests.factories import ItemFactory, ProjectFactory, UserFactory, refusal_v1
from tests.labelling import claim, label, new_annotator

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def settings_of(project: Project, **changes) -> ProjectSettings:
    current = ProjectSettings(
        name=project.name,
        label_set_version=project.label_set_version,
        overlap=project.overlap,
        lease=project.lease,
        guidelines=project.guidelines,
        extra_labels_max=project.extra_labels_max,
        disagreement_threshold=project.disagreement_threshold,
        gold_method=GoldMethod(project.gold_method),
        queue_strategy=QueueStrategy(project.queue_strategy),
        queue_settings=project.queue_settings,
        flagged_cap=project.flagged_cap,
        flagged_window=project.flagged_window,
    )
    return replace(current, **changes)


def update(project, confirmed=False, **changes):
    return project_update(
        project=Project.objects.get(pk=project.pk),
        settings=settings_of(project, **changes),
        confirmed=confirmed,
        updated_by=None,
        now=NOW,
    )


def other_version():
    version, _ = labelset_load(
        now=NOW,
        data={
            "name": "tiny",
            "fields": [{"name": "ok", "kind": "single", "options": [{"value": "y"}]}],
        },
    )
    return version


# Creating -------------------------------------------------------------------


def test_a_manager_of_any_project_creates_one_and_manages_it(project, manager):
    created = project_create(
        name="Second", label_set_version=refusal_v1(), created_by=manager, now=NOW
    )

    membership = Membership.objects.get(project=created, user=manager)
    assert membership.role == Role.MANAGER


def test_staff_create_projects_without_being_members_anywhere(db):
    staff = UserFactory(username="sam", is_staff=True)

    created = project_create(
        name="Staff's", label_set_version=refusal_v1(), created_by=staff, now=NOW
    )

    assert Membership.objects.get(project=created).user == staff


@pytest.mark.parametrize("persona", ["annotator", "reviewer", "outsider"])
def test_others_cannot_create_projects(persona, request):
    user = request.getfixturevalue(persona)

    with pytest.raises(PermissionDenied):
        project_create(
            name="Mine", label_set_version=refusal_v1(), created_by=user, now=NOW
        )

    assert not Project.objects.filter(name="Mine").exists()


def test_a_manager_cannot_use_a_label_set_they_cannot_see(project, manager):
    hidden, _ = labelset_load(
        now=NOW,
        created_by=UserFactory(username="someone"),
        data={
            "name": "private",
            "fields": [{"name": "ok", "kind": "single", "options": [{"value": "y"}]}],
        },
    )

    with pytest.raises(PermissionDenied):
        project_create(
            name="Mine", label_set_version=hidden, created_by=manager, now=NOW
        )


def test_every_bad_setting_is_named_at_once(db):
    with pytest.raises(ValidationError) as e:
        project_create(
            name=" ",
            label_set_version=refusal_v1(),
            overlap=0,
            lease=timedelta(0),
            queue_settings={"exploration": 0.9},
            flagged_cap=0,
            flagged_window=timedelta(days=8),
            now=NOW,
        )

    assert set(e.value.message_dict) == {
        "name",
        "overlap",
        "lease",
        "exploration",
        "flagged_cap",
        "flagged_window",
    }
    assert not Project.objects.filter(name=" ").exists()


# Changing -------------------------------------------------------------------


def test_a_change_that_touches_no_item_is_stored_at_once(project):
    result = update(project, name="Renamed", guidelines="Read *all* turns.")

    assert result.applied
    assert result.consequences == []
    project.refresh_from_db()
    assert (project.name, project.guidelines) == ("Renamed", "Read *all* turns.")


def test_the_cap_on_flagged_items_is_set_and_lifted_at_once(project):
    set_ = update(project, flagged_cap=5, flagged_window=timedelta(hours=2))
    project.refresh_from_db()
    capped = (project.flagged_cap, project.flagged_window)
    lifted = update(project, flagged_cap=None)
    project.refresh_from_db()

    assert (set_.applied, set_.consequences) == (True, [])
    assert capped == (5, timedelta(hours=2))
    assert lifted.applied
    assert project.flagged_cap is None


def test_the_name_stays_unique(project):
    ProjectFactory(name="Taken")

    with pytest.raises(ValidationError) as e:
        update(project, name="Taken")

    assert e.value.error_dict["name"][0].code == "duplicate_name"


def test_another_label_set_version_is_refused_once_there_are_labels(project):
    ItemFactory(project=project)
    label(new_annotator(project, "ann"), project, "policy")

    with pytest.raises(ValidationError) as e:
        update(project, label_set_version=other_version(), confirmed=True)

    [error] = e.value.error_dict["label_set_version"]
    assert error.code == "labels_exist"
    assert "1 labels" in error.message
    project.refresh_from_db()
    assert project.label_set_version == refusal_v1()


def test_another_label_set_version_is_taken_before_any_label(project):
    version = other_version()

    result = update(project, label_set_version=version)

    assert result.applied
    project.refresh_from_db()
    assert project.label_set_version == version


def test_lowering_the_overlap_below_labels_given_is_refused(project):
    item = ItemFactory(project=project)
    for n in range(2):
        label(new_annotator(project, f"ann{n}"), project, "policy")
    claim(new_annotator(project, "holder"), project)  # a third label on its way

    with pytest.raises(ValidationError) as e:
        update(project, overlap=2, confirmed=True)

    [error] = e.value.error_dict["overlap"]
    assert error.code == "below_labels"
    assert "no lower than 3" in error.message
    assert Project.objects.get(pk=project.pk).overlap == 3
    assert Item.objects.get(pk=item.pk).slots_left == 0


def test_raising_the_overlap_asks_first_then_reopens_complete_items(
    project, django_capture_on_commit_callbacks
):
    item = ItemFactory(project=project)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            label(new_annotator(project, f"ann{n}"), project, "policy")
    assert Gold.objects.filter(item=item).exists()
    assert Project.objects.get(pk=project.pk).items_complete == 1

    asked = update(project, overlap=4)

    assert not asked.applied
    [said] = asked.consequences
    assert "reopens 1 complete items" in said
    assert "gold of 1 of them is withdrawn" in said
    assert Project.objects.get(pk=project.pk).overlap == 3  # nothing stored yet

    done = update(project, overlap=4, confirmed=True)

    assert done.applied
    project.refresh_from_db()
    assert (project.overlap, project.items_complete) == (4, 0)
    assert Item.objects.get(pk=item.pk).slots_left == 1
    assert not Gold.objects.filter(item=item).exists()


def test_lowering_the_overlap_completes_items_and_gives_them_gold(
    project, django_capture_on_commit_callbacks
):
    item = ItemFactory(project=project)
    other = ItemFactory(project=project)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(2):
            label(new_annotator(project, f"ann{n}"), project, "policy")

    asked = update(project, overlap=2)
    assert "completes 1 items" in asked.consequences[0]

    with django_capture_on_commit_callbacks(execute=True):
        update(project, overlap=2, confirmed=True)

    project.refresh_from_db()
    assert project.items_complete == 1
    assert Item.objects.get(pk=item.pk).slots_left == 0
    assert Item.objects.get(pk=other.pk).slots_left == 2
    assert Gold.objects.filter(item=item).exists()


def test_a_lower_threshold_opens_an_extra_slot_on_disagreeing_items(
    project, django_capture_on_commit_callbacks
):
    item = ItemFactory(project=project)
    with django_capture_on_commit_callbacks(execute=True):
        for n, refusal_type in enumerate(["policy", "policy", "scope"]):
            label(new_annotator(project, f"ann{n}"), project, refusal_type)
    item.refresh_from_db()
    assert item.slots_left == 0  # extra_labels_max is 0

    asked = update(project, extra_labels_max=1)
    assert asked.consequences == [
        "1 complete items whose labels disagree get one more label each."
    ]
    update(project, extra_labels_max=1, confirmed=True)
    assert Item.objects.get(pk=item.pk).slots_left == 1

    update(project, extra_labels_max=1, disagreement_threshold=0.9, confirmed=True)
    assert Item.objects.get(pk=item.pk).slots_left == 0


def test_a_new_gold_method_asks_first_when_there_is_gold(
    project, django_capture_on_commit_callbacks
):
    ItemFactory(project=project)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            label(new_annotator(project, f"ann{n}"), project, "policy")

    asked = update(project, gold_method="weighted")

    assert "The gold of 1 items is recomputed weighted" in asked.consequences[0]


def test_a_new_queue_strategy_rescores_the_queue(project):
    result = update(project, queue_strategy="random")

    assert result.job is not None
    assert result.job.kind == "rescore"
    assert Project.objects.get(pk=project.pk).queue_strategy == "random"


def test_queue_settings_are_checked_against_the_label_set(project):
    with pytest.raises(ValidationError) as e:
        update(project, queue_settings={"target_fields": "notes"})

    assert "target_fields" in e.value.message_dict
