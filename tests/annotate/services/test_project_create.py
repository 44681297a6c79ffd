from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotate.models import GoldMethod, Project
from annotate.services.projects import label_set_version_get, project_create
from tests.factories import refusal_v1

pytestmark = pytest.mark.django_db


def test_project_create_stores_the_settings():
    project = project_create(
        now=timezone.now(),
        name="Eval",
        label_set_version=refusal_v1(),
        overlap=2,
        lease=timedelta(minutes=5),
        extra_labels_max=1,
        disagreement_threshold=0.4,
        gold_method=GoldMethod.WEIGHTED,
        flagged_cap=3,
        flagged_window=timedelta(hours=2),
    )

    assert project.overlap == 2
    assert (project.flagged_cap, project.flagged_window) == (3, timedelta(hours=2))
    assert (project.extra_labels_max, project.disagreement_threshold) == (1, 0.4)
    assert project.gold_method == "weighted"
    assert project.lease == timedelta(minutes=5)
    assert project.label_set_version.label_set.name == "refusal-v1"
    assert project.items_total == 0


def test_a_duplicate_name_is_refused():
    project_create(now=timezone.now(), name="Eval", label_set_version=refusal_v1())

    with pytest.raises(ValidationError) as exc:
        project_create(now=timezone.now(), name="Eval", label_set_version=refusal_v1())

    assert "name" in exc.value.message_dict
    assert Project.objects.count() == 1


def test_an_overlap_below_one_is_refused():
    with pytest.raises(ValidationError) as exc:
        project_create(
            now=timezone.now(), name="Eval", label_set_version=refusal_v1(), overlap=0
        )

    assert "overlap" in exc.value.message_dict


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"extra_labels_max": -1}, "extra_labels_max"),
        ({"disagreement_threshold": 1.5}, "disagreement_threshold"),
    ],
)
def test_bad_disagreement_settings_are_refused_naming_the_field(kwargs, field):
    with pytest.raises(ValidationError) as exc:
        project_create(
            now=timezone.now(), name="Eval", label_set_version=refusal_v1(), **kwargs
        )

    assert list(exc.value.message_dict) == [field]
    assert not Project.objects.exists()


def test_an_unknown_label_set_names_the_known_ones():
    with pytest.raises(ValidationError) as exc:
        label_set_version_get(name="nope")

    assert "refusal-v1" in exc.value.message_dict["label_set"][0]
