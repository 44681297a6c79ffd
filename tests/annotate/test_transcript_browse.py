"""queries.transcripts_browse and the item statuses it filters on."""

from __future__ import annotations

import pytest
from django.utils import timezone

from annotate.models import Gold, Item, Job, Transcript
from annotate.queries import (
    ITEM_STATUSES,
    SearchTooSlow,
    TranscriptFilters,
    item_status,
    item_status_filter,
    source_models_imported,
    transcripts_browse,
)
from annotate.services.assignments import batch_items
from tests.factories import (
    ItemFactory,
    ProjectFactory,
    SavedSearchFactory,
    TranscriptFactory,
    items_bulk,
)
from tests.labelling import claim, label, new_annotator

pytestmark = pytest.mark.django_db


def browse(project, viewer_id=None, after=0, limit=100, **filters):
    return transcripts_browse(
        project=project,
        filters=TranscriptFilters(**filters),
        after=after,
        limit=limit,
        viewer_id=viewer_id,
    )


def ids(transcripts):
    return [t.pk for t in transcripts]


@pytest.fixture
def states():
    """One item in each status; overlap 2, threshold 0.35."""
    project = ProjectFactory(overlap=2)
    now = timezone.now()

    def item(count, disagreement=None, gold=None):
        it = ItemFactory(
            project=project,
            annotations_count=count,
            slots_left=max(0, 2 - count),
            disagreement=disagreement,
        )
        if gold is not None:
            key_resolved, adjudicated = gold
            Gold.objects.create(
                item=it,
                values={},
                key_resolved=key_resolved,
                adjudicated=adjudicated,
                updated_at=now,
            )
        return it

    return project, {
        "unlabelled": item(0),
        "in_progress": item(1),
        "complete": item(2, 0.0, (True, False)),
        "disputed": item(2, 0.0, (False, False)),  # a tie on the key field
        "adjudicated": item(2, 0.9, (True, True)),
        # Full and resolved, but above the threshold: in the review queue.
        "disputed_split": item(3, 0.6, (True, False)),
        # Full, its gold not written yet (the rescore still to run).
        "complete_no_gold": item(2),
        # Decided before all its labels were in.
        "adjudicated_early": item(1, None, (True, True)),
    }


def test_each_item_is_in_exactly_the_status_its_row_shows(states):
    project, items = states
    selected = {
        status: set(ids(browse(project, status=status))) for status in ITEM_STATUSES
    }

    for name, item in items.items():
        expected = name.split("_")[0] if name != "in_progress" else name
        row = Item.objects.select_related("gold").get(pk=item.pk)
        assert item_status(project, row) == expected, name
        assert [s for s, found in selected.items() if item.pk in found] == [expected], (
            name
        )


def test_an_unknown_status_is_refused(states):
    project, _ = states
    with pytest.raises(ValueError, match="Unknown status"):
        item_status_filter(project, "finished")


def test_text_search_ignores_case_and_external_id_is_exact(project):
    lock = TranscriptFactory(
        project=project,
        external_id="xs-1",
        messages=[{"role": "user", "content": "How to pick a LOCK?"}],
    )
    other = TranscriptFactory(project=project, external_id="xs-10")

    assert ids(browse(project, text="pick a lock")) == [lock.pk]
    assert ids(browse(project, external_id="xs-1")) == [lock.pk]
    assert ids(browse(project, external_id="xs-10")) == [other.pk]
    assert ids(browse(project, text="nowhere")) == []


def test_model_dataset_and_metadata_filters(project):
    a = TranscriptFactory(
        project=project,
        source_model="model-a",
        dataset="xstest",
        metadata={"category": "drugs", "turns": 3, "_judge": "refusal"},
    )
    b = TranscriptFactory(
        project=project, source_model="model-b", metadata={"category": "privacy"}
    )
    TranscriptFactory(project=project, source_model="model-b")

    assert ids(browse(project, source_model="model-a")) == [a.pk]
    assert ids(browse(project, dataset="xstest")) == [a.pk]
    assert ids(browse(project, metadata_key="category", metadata_value="privacy")) == [
        b.pk
    ]
    assert ids(browse(project, metadata_key="turns", metadata_value="3")) == [a.pk]
    assert ids(browse(project, metadata_key="category")) == [a.pk, b.pk]
    assert ids(browse(project, metadata_key="_judge")) == [a.pk]  # reviewers see all
    assert ids(browse(project, source_model="model-b", metadata_key="category")) == [
        b.pk
    ]


def test_pages_follow_the_id_after_the_last_one(project):
    made = items_bulk(project, 5)

    first = browse(project, limit=2)
    rest = browse(project, after=first[-1].pk, limit=10)

    assert ids(first) == [i.pk for i in made[:2]]
    assert ids(rest) == [i.pk for i in made[2:]]


def test_items_the_viewer_labels_are_marked_and_left_out_of_status_filters():
    project = ProjectFactory(overlap=2)
    labelled, held, other = ItemFactory.create_batch(3, project=project)
    rita = new_annotator(project, "rita")
    label(rita, project, "policy")
    claim(rita, project)

    rows = browse(project, viewer_id=rita.pk)
    in_progress = browse(project, viewer_id=rita.pk, status="in_progress")
    unlabelled = browse(project, viewer_id=rita.pk, status="unlabelled")

    assert [t.seen for t in rows] == [True, True, False]
    assert ids(in_progress) == []  # the one she labelled is hers
    assert ids(unlabelled) == [other.pk]
    assert ids(browse(project, status="in_progress")) == [labelled.pk]


def test_models_for_the_suggestions_come_from_the_import_summaries(project):
    for by_model in ({"model-a": 3, "": 1}, {"model-b": 2, "model-a": 1}):
        Job.objects.create(
            project=project,
            kind="import",
            status="succeeded",
            result={"by_model": by_model},
            created_at=timezone.now(),
        )

    assert source_models_imported(project) == ["model-a", "model-b"]


@pytest.mark.postgres
def test_a_text_search_past_its_time_is_stopped_on_postgresql(project, monkeypatch):
    import annotate.queries

    items_bulk(project, 20_000)
    monkeypatch.setattr(annotate.queries, "SEARCH_TIMEOUT_MS", 1)

    with pytest.raises(SearchTooSlow):
        browse(project, text="found nowhere at all")
    # The transaction rolled back to before the search: the connection works.
    assert Transcript.objects.filter(project=project).exists()


def test_a_saved_search_selects_for_a_batch_what_the_browser_lists(states):
    project, items = states
    # As if the overlap were raised: every item open, whatever its status.
    Item.objects.filter(project=project).update(slots_left=1)

    for status in ITEM_STATUSES:
        search = SavedSearchFactory(project=project, source_model="", status=status)
        chosen, _ = batch_items(project=project, selection={"saved_search": search.pk})

        assert {i.pk for i in chosen} == set(ids(browse(project, status=status)))
        assert chosen, status
