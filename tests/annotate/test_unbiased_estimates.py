"""The exploration sample keeps the calibration report honest: on a simulated
population where the queue's favourite (hard) items refuse more often, the
rate over the finished exploration items is unbiased over 200 seeded
replays, and the rate over all labels is not."""

from __future__ import annotations

import math

import numpy as np

from annotate.services.exports import unbiased_figures
from annotate.services.learning import AUDIT_SALT
from annotate.stats.calibration import Calibration
from annotate.stats.ranking import random_priority

ITEMS, BUDGET, SHARE, REPLAYS = 3000, 400, 0.1, 200


def gold(refused: bool) -> dict[str, dict[str, object]]:
    return {
        "request_harm": {"value": "benign"},
        "refusal_type": {"value": "policy" if refused else "none"},
        "failure_modes": {"value": []},
    }


def replay(seed: int, hardness: np.ndarray, refused: np.ndarray) -> tuple[float, float]:
    """One run of the queue's two streams, as services.learning draws them:
    the sample by AUDIT_SALT, served in its random order by SHARE of the
    claims; the rest hardest first (what uncertainty sampling does)."""
    ids = np.arange(1, ITEMS + 1, dtype=np.int64)
    in_sample = random_priority(seed ^ AUDIT_SALT, ids) < SHARE
    sample_order = list(
        ids[in_sample][np.argsort(-random_priority(seed, ids[in_sample]))]
    )
    queue_order = list(ids[~in_sample][np.argsort(-hardness[~in_sample])])
    draws = np.random.default_rng(seed).random(BUDGET)
    labelled = []
    for draw in draws:
        stream = sample_order if draw < SHARE and sample_order else queue_order
        item = stream.pop(0)
        labelled.append(item)
    everything, sample = Calibration(), Calibration()
    for item in labelled:
        entry = gold(bool(refused[item - 1]))
        everything.add(model="m", category=None, prompt_group="", gold=entry)
        if in_sample[item - 1]:
            sample.add(model="m", category=None, prompt_group="", gold=entry)
    report = everything.report()
    honest = unbiased_figures(strategy="hybrid", report=report, sample=sample.report())
    return (
        report["models"][0]["over_refusal"]["rate"],
        honest["models"][0]["over_refusal"]["rate"],
    )


def test_the_exploration_estimate_is_unbiased_and_the_all_labels_one_is_not():
    population = np.random.default_rng(12345)
    hardness = population.random(ITEMS)
    refused = population.random(ITEMS) < 0.1 + 0.6 * hardness
    truth = float(refused.mean())

    runs = np.asarray([replay(seed, hardness, refused) for seed in range(REPLAYS)])
    all_labels, unbiased = runs[:, 0], runs[:, 1]

    se = unbiased.std(ddof=1) / math.sqrt(REPLAYS)
    assert abs(unbiased.mean() - truth) <= 2 * se
    all_se = all_labels.std(ddof=1) / math.sqrt(REPLAYS)
    assert abs(all_labels.mean() - truth) > 10 * max(all_se, se)
