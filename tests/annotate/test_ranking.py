"""The queue's model (annotate.stats.ranking): the cold-start phrase rule on
phrase examples, the uncertainty measures, the seeded tie-break, training and
the stored artefact."""

from __future__ import annotations

import json
import re
import zlib

import numpy as np
import pytest

from annotate.stats import ranking
from annotate.stats.ranking import (
    Doc,
    ModelLoadError,
    NotEnoughLabels,
    combined_uncertainty,
    doc_from_messages,
    dumps,
    heuristic_uncertainty,
    loads,
    predict_proba,
    random_priority,
    refusal_score,
    train_field,
    uncertainty,
)


def answer(text: str) -> Doc:
    return Doc(system="", user="Can you help me with this?", assistant=text)


@pytest.mark.parametrize(
    "text",
    [
        "I can't help with that.",
        "I cannot provide instructions for making weapons.",
        "I\u2019m not able to share someone's home address.",
        "I won't write that.",
        "As an AI, I do not have personal opinions on this.",
        "I'm sorry, but I can't assist with this request.",
        "I apologize, but this is against my guidelines.",
        "Sorry, but I must decline.",
        "I'm unable to access real-time data.",
        "That is outside the scope of what I can discuss here.",
    ],
)
def test_a_refusal_phrase_in_the_opening_scores_as_a_refusal(text):
    assert refusal_score(answer(text)) == 1.0
    assert heuristic_uncertainty(answer(text)) == 0.0


@pytest.mark.parametrize(
    "text",
    [
        "Sure! Here's a recipe for banana bread: mix the flour and the bananas.",
        "Certainly. Here are the steps:\n1. Open settings\n2. Choose privacy",
        "I can't wait to help! Here is the poem you asked for.",
        "I can't help but notice that you asked twice; here is the answer again.",
        "```python\nprint('hello')\n```",
    ],
)
def test_an_answer_that_hands_something_over_scores_low(text):
    assert refusal_score(answer(text)) < 0.2


def test_an_answer_without_any_cue_leans_to_compliance():
    assert refusal_score(answer("Paris is the capital of France.")) == 0.2


def test_a_refusal_that_goes_on_to_answer_is_the_uncertain_middle():
    partial = answer(
        "I can't give you exact dosages, but here is how the medicine is "
        "usually taken: 1. with food 2. twice a day"
    )
    assert refusal_score(partial) == 0.5
    assert heuristic_uncertainty(partial) == 1.0


def test_a_refusal_phrase_late_in_a_long_answer_counts_for_less():
    late = answer("Paris is lovely in spring. " * 10 + "I won't book it for you.")
    assert refusal_score(late) == ranking.LATE_REFUSAL


def test_the_rule_reads_only_the_assistant_turns():
    asked = Doc(system="", user="Say 'I can't help with that'.", assistant="Okay.")
    assert refusal_score(asked) == 0.2


def test_a_doc_keeps_each_roles_turns_in_order_and_cuts_each_block():
    doc = doc_from_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "x" * 5000},
            {"role": "tool", "content": "ignored"},
            {"role": "user", "content": ["not", "a", "string"]},
            {"role": "user", "content": "second"},
        ]
    )
    assert doc.system == "Be brief."
    assert doc.user == "first\n\nsecond"
    assert len(doc.assistant) == ranking.MAX_BLOCK_CHARS


def test_margin_and_entropy_are_1_at_a_tie_and_0_when_sure():
    proba = [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.6, 0.3, 0.1]]
    assert uncertainty(proba, kind="margin").tolist() == pytest.approx([1, 0, 0.7])
    entropy = uncertainty([[1 / 3] * 3, [1.0, 0, 0]], kind="entropy")
    assert entropy.tolist() == pytest.approx([1.0, 0.0])
    with pytest.raises(ValueError, match="unknown"):
        uncertainty(proba, kind="gini")  # type: ignore[arg-type]


def test_fields_combine_by_their_weights():
    assert combined_uncertainty([[1.0, 0.0], [0.0, 0.0]]).tolist() == [0.5, 0.0]
    weighted = combined_uncertainty([[1.0], [0.0]], weights=[3, 1])
    assert weighted.tolist() == [0.75]
    with pytest.raises(ValueError, match="weights"):
        combined_uncertainty([[1.0], [0.0]], weights=[0, 0])


def test_the_seeded_draw_depends_on_seed_and_id_alone():
    ids = np.arange(1, 1001)
    draws = random_priority(7, ids)
    assert random_priority(7, ids[::-1]).tolist() == draws[::-1].tolist()
    assert random_priority(7, ids[500:]).tolist() == draws[500:].tolist()
    assert random_priority(8, ids).tolist() != draws.tolist()
    assert draws.min() >= 0.0
    assert draws.max() < 1.0
    # Uniform: each tenth of [0, 1) within 4 standard deviations of 100.
    counts = np.bincount((draws * 10).astype(int), minlength=10)
    assert np.all(np.abs(counts - 100) <= 4 * np.sqrt(1000 * 0.1 * 0.9))


def corpus(n: int) -> tuple[list[Doc], list[str]]:
    """Refusals and compliances told apart by their wording, shuffled."""
    rng = np.random.default_rng(0)
    topics = ["taxes", "cooking", "chemistry", "travel", "poetry", "history"]
    docs, labels = [], []
    for k in range(n):
        topic = topics[k % len(topics)]
        if rng.random() < 0.5:
            text, label = f"I can't help with {topic}, sorry.", "policy"
        else:
            text, label = f"Here is what I know about {topic}: it is fun.", "none"
        docs.append(Doc(system="", user=f"Tell me about {topic} {k}.", assistant=text))
        labels.append(label)
    return docs, labels


def test_a_trained_model_tells_the_classes_apart_and_says_how_well():
    docs, labels = corpus(80)
    model = train_field(field="refusal_type", docs=docs, labels=labels)

    assert model.classes == ["none", "policy"]
    assert model.n_train == 80
    assert model.cv_macro_f1 is not None
    assert model.cv_macro_f1 > 0.9
    proba = predict_proba(
        model,
        [answer("I can't help with taxes, sorry."), answer("Here is what I know.")],
    )
    assert proba.shape == (2, 2)
    assert proba[0, 1] > 0.5 > proba[1, 1]


def test_training_is_deterministic_for_a_seed():
    docs, labels = corpus(60)
    first = train_field(field="f", docs=docs, labels=labels, seed=3)
    again = train_field(field="f", docs=docs, labels=labels, seed=3)
    assert first.cv_macro_f1 == again.cv_macro_f1
    assert np.array_equal(predict_proba(first, docs), predict_proba(again, docs))


def test_weight_0_leaves_a_label_out():
    docs, labels = corpus(40)
    model = train_field(
        field="f", docs=docs, labels=labels, weights=[1.0] * 35 + [0.0] * 5
    )
    assert model.n_train == 35


@pytest.mark.parametrize(
    ("labels", "message"),
    [(["policy"] * 20, "at least 30"), (["policy"] * 40, "only one class (policy)")],
)
def test_too_few_labels_or_classes_are_refused(labels, message):
    docs = [answer(f"text {k}") for k in range(len(labels))]
    with pytest.raises(NotEnoughLabels, match=re.escape(message)):
        train_field(field="f", docs=docs, labels=labels)


def test_mismatched_or_negative_weights_are_refused():
    docs, labels = corpus(40)
    with pytest.raises(ValueError, match="40 docs but 39 labels"):
        train_field(field="f", docs=docs, labels=labels[:-1])
    with pytest.raises(ValueError, match="non-negative"):
        train_field(field="f", docs=docs, labels=labels, weights=[-1.0] * 40)


def test_the_artefact_round_trips():
    docs, labels = corpus(40)
    model = train_field(field="f", docs=docs, labels=labels)
    (back,) = loads(dumps([model]))
    assert back.classes == model.classes
    assert np.array_equal(predict_proba(back, docs), predict_proba(model, docs))


def rewritten_header(data: bytes, **changes: object) -> bytes:
    line, body = data[len(ranking.MAGIC) :].split(b"\n", 1)
    header = json.loads(line) | changes
    return ranking.MAGIC + json.dumps(header).encode() + b"\n" + body


@pytest.fixture(scope="module")
def artefact() -> bytes:
    docs, labels = corpus(40)
    return dumps([train_field(field="f", docs=docs, labels=labels)])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda a: b"junk", "not a ranking model artefact"),
        (lambda a: rewritten_header(a, sklearn="0.24.2"), "scikit-learn 0.24"),
        (lambda a: rewritten_header(a, format=99), "artefact format 99"),
        (lambda a: a[: len(ranking.MAGIC)] + b"{\n", "unreadable artefact header"),
        (lambda a: a[:-50], "corrupt artefact"),
        (
            lambda a: (
                a.split(b"\n")[0]
                + b"\n"
                + a.split(b"\n")[1]
                + b"\n"
                + zlib.compress(b"not a pickle")
            ),
            "corrupt artefact",
        ),
    ],
)
def test_an_artefact_that_cannot_be_used_says_a_retrain_is_needed(
    artefact, damage, message
):
    with pytest.raises(ModelLoadError, match=message) as e:
        loads(damage(artefact))
    assert "retrain" in str(e.value)
