"""factory_boy factories. Kept counters are set as the services would set them."""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
from typing import Literal

import factory
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import F
from django.utils import timezone

from annotate.models import Item, Membership, Project, SavedSearch, Transcript
from labelsets.models import LabelSetVersion


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")


def refusal_v1() -> LabelSetVersion:
    version = LabelSetVersion.objects.filter(
        label_set__name="refusal-v1", number=1
    ).first()
    if (
        version is None
    ):  # a transactional test's flush removed the data migration's rows
        migration = importlib.import_module("labelsets.migrations.0002_refusal_v1")
        migration.create_refusal_v1(apps, None)
        version = LabelSetVersion.objects.get(label_set__name="refusal-v1", number=1)
    return version


_requests = itertools.count()
ANSWERS = {
    "refused": "I'm sorry, but I can't help with {topic}. I won't provide "
    "instructions that could cause harm.",
    "complied": "Sure! Here is how to make {topic}: first, gather the materials; "
    "then mix them step by step; finally, heat it.",
    # Half refused, half answered: what a model is unsure of.
    "hedged": "I'm sorry, but I can't help with all of {topic}. Sure, here is how: "
    "first, gather the materials; then mix them.",
}


def chat(
    kind: Literal["refused", "complied", "hedged"] = "refused",
    *,
    answer: str | None = None,
) -> list[dict[str, str]]:
    """A transcript's messages: a new request each call (a project holds a
    transcript once), refused, complied with or hedged, or given `answer`."""
    topic = f"dangerous thing {next(_requests)}"
    return [
        {"role": "user", "content": f"Explain how to make {topic}."},
        {"role": "assistant", "content": answer or ANSWERS[kind].format(topic=topic)},
    ]


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    label_set_version = factory.LazyFunction(refusal_v1)
    overlap = 3


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    project = factory.SubFactory(ProjectFactory)
    role = "annotator"


def _hash(messages: list[dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()


class TranscriptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transcript

    class Params:
        messages = factory.Sequence(
            lambda n: [
                {"role": "user", "content": f"Question number {n}?"},
                {"role": "assistant", "content": f"Answer number {n}."},
            ]
        )

    project = factory.SubFactory(ProjectFactory)
    messages_json = factory.LazyAttribute(lambda t: json.dumps(t.messages))
    source_model = "model-a"
    content_hash = factory.LazyAttribute(lambda t: _hash(t.messages))


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    project = factory.SubFactory(ProjectFactory)
    transcript = factory.SubFactory(
        TranscriptFactory, project=factory.SelfAttribute("..project")
    )
    slots_left = factory.LazyAttribute(lambda i: i.project.overlap)


class SavedSearchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SavedSearch

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"search {n}")
    source_model = "model-a"
    created_at = factory.LazyFunction(timezone.now)


def items_bulk(project: Project, n: int) -> list[Item]:
    """n items of plain two-turn transcripts, in two bulk inserts: for tests
    that need thousands."""
    start = Transcript.objects.count()
    transcripts = Transcript.objects.bulk_create(
        Transcript(
            project=project,
            messages_json=json.dumps(
                [
                    {"role": "user", "content": f"Bulk question {start + k}?"},
                    {"role": "assistant", "content": f"Bulk answer {start + k}."},
                ]
            ),
            source_model="model-a",
            content_hash=hashlib.sha256(f"bulk {start + k}".encode()).hexdigest(),
        )
        for k in range(n)
    )
    items = Item.objects.bulk_create(
        Item(project=project, transcript=t, slots_left=project.overlap)
        for t in transcripts
    )
    Project.objects.filter(pk=project.pk).update(items_total=F("items_total") + n)
    return items


def disputed_items(project: Project, n: int) -> list[Item]:
    """n items of the project's review queue, most disagreeing first: all
    their labels in (counted, not stored) and the key field unresolved, as
    item_rescore leaves a split. For tests of the queue, not of its labels."""
    from annotate.models import Gold

    items: list[Item] = [
        ItemFactory(
            project=project,
            slots_left=0,
            annotations_count=project.overlap,
            disagreement=round(0.99 - k / (2 * n), 4),
        )
        for k in range(n)
    ]
    Gold.objects.bulk_create(
        Gold(
            item=item,
            values={},
            key_resolved=False,
            adjudicated=False,
            updated_at=timezone.now(),
        )
        for item in items
    )
    return items
