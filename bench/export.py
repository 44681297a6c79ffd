"""Exports at scale: the gold export and the training exports (preference
pairs, SFT rows) of 100k and 1M gold rows as JSONL, and the pairs as Parquet.

What: four kinds, each on a finished project of 100,000 and one of
1,000,000 items, written to a file on disk (`--kind` picks one; default all):
- gold: annotate.services.exports.gold_export with the default options but
  for include_unresolved (ExportOptions(fmt="jsonl", include_unresolved=True):
  every item with gold, unresolved key fields too, so every run writes every
  row; no filters, no raw annotations);
- pairs, sft: annotate.services.training_exports.training_export with
  ExportOptions(kind="pairs") or ExportOptions(kind="sft"), the other options
  default (no confidence floor, no quality tie-break, no pair cap). They read
  the gold rows whose key field has gold and write the pairs made within each
  prompt group, or the appropriate responses;
- pairs-parquet: the pairs with ExportOptions(kind="pairs", fmt="parquet"),
  whose row groups wait in memory until written (their bound: peak RSS).
Per run: the call's wall and CPU time, rows written per second and gold rows
read per second (the two differ for pairs and sft), bytes written and the
process's peak RSS. `alpha={}` is passed, so a run measures the export
itself: `manage.py export_gold` would first get the manifest's alphas from
export_alpha, which on a project without a finished agreement job computes a
whole agreement_report (bench/agreement.py measures that).

How: each run is a fresh Python process that sets Django up against the
PostgreSQL bench database, calls the export onto a temporary file and prints
one JSON line (wall and CPU seconds of the call, the manifest's rows and
bytes, VmHWM); the parent checks the manifest against the file (bytes, one
line per row, rows by split and by reason) and removes it. Per kind and
size, one unmeasured warm-up run (so the first measured one does not pay for
a cold page cache; its row count, `size` for gold, is the one every measured
run must repeat), then `--runs` runs, each after a CHECKPOINT; the table
shows median, min and max. For pairs, the warm-up's file also gives how many
pairs each prompt group made. When the gold 1M median misses the rows/s goal
(or with `--profile`, for every kind), one more 1M run under cProfile prints
the 25 functions with the most time of their own.

Data: one project per size ("bench-export-100000", "bench-export-1000000"),
made once and kept for later runs while complete (transcripts, items and gold
rows all there). Transcripts are loaded with COPY, generated in chunks as
they stream in: a system prompt, a user question and an assistant answer of
60-150 words (~1.1 KB of messages JSON), in prompt groups of 2-4 transcripts
(mean 3) sharing the system prompt and question, each from one of 3 source
models, metadata {"category": ...}. Items: 3 labels each, none left to claim
(annotations_count 3, slots_left 0) and the key field's disagreement set.
Gold: refusal-v1 values for every field as gold_store leaves them, from
seeded "true" labels that keep the label set's rules (bench/agreement.py's):
about 62% of items agree on refusal_type, 30% by 2 of 3, 8% split three ways
(unresolved), and a few adjudicated (12% of the disputed, ~4.5% of all);
the other single fields mostly unanimous or majority, some unresolved;
ratings median or unanimous, unresolved (0 votes) when show_if hid them from
every label.
No Annotation (or Decision) rows are made: the default export
(with_annotations=False) never reads them, so this data is for the export
only (annotations_total says 3 per item, as the items do).

Pairs come from this gold as it is: every group shares its conversation, and
an appropriate response pairs with an over- or under-refusing one of the
same group, about one pair per group on average (half the groups make none).

Goal (issue 5): 1,000,000 gold rows as JSONL from PostgreSQL at
>= 50,000 rows/s, and peak RSS < 300 MB whatever the row count. Issue 13:
the pairs and sft exports within the same peak RSS bound (no rows/s goal).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/export.py`, this file's directory is sys.path[0], and
# bench/queue.py there would shadow the standard library's `queue` (which
# psycopg and Django import): drop the directory before any other import.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import orjson  # noqa: E402

from bench.agreement import (  # noqa: E402
    APPROPRIATE,
    FAILURES,
    HARM,
    RATINGS,
    REFUSAL,
    Codes,
    Weights,
    draw,
    true_labels,
)
from bench.common import (  # noqa: E402
    ROOT,
    checkpoint,
    database_url,
    ensure_database,
    env,
    figure,
    machine,
    median,
    table,
)

SIZES = (100_000, 1_000_000)
# "pairs-parquet": the pairs as Parquet, whose row groups are held in memory.
KINDS = ("gold", "pairs", "sft", "pairs-parquet")
LABELS = 3  # per item
GOAL_ROWS_PER_SECOND = 50_000.0
GOAL_RSS_MB = 300.0
SEED = 20250505
FIRST_DAY = np.datetime64("2025-03-03T08:00:00", "s")
SPAN_DAYS = 28
CHUNK_GROUPS = 5_000  # prompt groups per generated chunk (~15k transcripts)

MODELS = ["aster-7b", "bolt-13b", "cedar-70b"]
DATASET = "redteam-v3"
CATEGORIES = [
    "weapons",
    "cybersecurity",
    "self-harm",
    "medical",
    "chemistry",
    "fiction",
    "privacy",
    "finance",
]
# Common words of refusal and help, a few ending a clause; ~5.5 letters each.
_VOCABULARY_TEXT = (
    "the a an and or but if then because so that this those it its you your we our "
    "they their I my me can cannot could would should will may might must not no "
    "yes here there what which who how why when where help request provide "
    "information details steps instructions guidance advice safety policy harmful "
    "legitimate context purpose research education history fiction story character "
    "chemistry medicine security system network software code password account data "
    "privacy personal general specific example alternative resource professional "
    "doctor lawyer expert support service team product question answer response "
    "explain understand consider recommend suggest instead however, although, also "
    "really quite very more less most least some many few all every each other "
    "such as like about with without for from into onto over under between during "
    "before after while since until against toward through across around is are "
    "was were be been being have has had do does did make made take given give "
    "know think want need try use find keep show tell ask say work learn read "
    "write build create protect prevent avoid risk danger legal illegal ethical "
    "responsible careful important useful possible likely common simple clear "
    "detailed brief short long first second next last today.  topic. goal. "
    "situation. case. way. reason. approach. options. limits."
)
VOCABULARY = _VOCABULARY_TEXT.split()
_WORDS = np.array(VOCABULARY, dtype=object)

# Gold entries: methods and confidences as aggregation.py produces them for 3
# labels (and fewer where show_if hid a rating from some of them).
METHODS = ["unanimous", "majority", "median", "adjudicated", "unresolved"]
UNANIMOUS, MAJORITY, MEDIAN, ADJUDICATED, UNRESOLVED = range(len(METHODS))
CONFIDENCES: list[float | None] = [None, 1.0, 2 / 3, 1 / 3, 1 / 2, 11 / 12, 10 / 12]
NO_CONF, C_ONE, C_TWO_THIRDS, C_THIRD, C_HALF, C_11_12, C_10_12 = range(
    len(CONFIDENCES)
)
# refusal_type's labels: all agree, two of three, all differ (unresolved).
KEY_PATTERN: Weights = np.array([0.62, 0.30, 0.08])
ADJUDICATED_SHARE = 0.12  # of the items whose refusal_type labels disagree
SINGLE_METHOD: Weights = np.array([0.6, 0.33, 0.07])  # unanimous, majority, unresolved
# Normalised entropy of the key field's 3 labels over its 5 options, by pattern
# (annotate.services' disagreement score).
DISAGREEMENT = np.array(
    [
        0.0,
        -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3)) / np.log(len(REFUSAL)),
        np.log(3) / np.log(len(REFUSAL)),
    ]
)

type Flags = npt.NDArray[np.bool_]

# One export of the given kind in this process, as `manage.py export_gold`
# calls it but with alpha={} (no agreement computation). Peak RSS is VmHWM,
# this process's own high-water mark (ru_maxrss would carry the parent's over
# the fork).
MEASURED = """
import json, resource, sys, time

def peak_kb():
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

import django
django.setup()
from django.utils import timezone
from annotate.services.exports import ExportOptions, gold_export
from annotate.services.training_exports import training_export
from annotate.models import Project
project = Project.objects.select_related("label_set_version__label_set").get(
    name=sys.argv[1]
)
kind, _, fmt = sys.argv[3].partition("-")
if kind == "gold":
    export, options = gold_export, ExportOptions(fmt="jsonl", include_unresolved=True)
else:
    export, options = training_export, ExportOptions(kind=kind, fmt=fmt or "jsonl")
profile = sys.argv[4] == "profile"
with open(sys.argv[2], "wb") as stream:
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu = time.perf_counter(), time.process_time()
    manifest = export(
        project=project,
        options=options,
        stream=stream,
        alpha={},
        now=timezone.now(),
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profile:
        profiler.disable()
if profile:
    import pstats
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
print(json.dumps({
    "wall": wall,
    "cpu": cpu,
    "rows": manifest["counts"]["rows"],
    "by_split": manifest["counts"]["by_split"],
    "by_reason": manifest["counts"].get("by_reason", {}),
    "bytes": manifest["bytes"],
    "rss_kb": peak_kb(),
}))
"""


# Data.


def django_setup(url: str) -> None:
    os.environ.update(env(url))
    import django

    django.setup()


def peak_mb() -> float:
    """This process's VmHWM in MB (0 where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def stamps(rng: np.random.Generator, n: int) -> list[str]:
    offsets = rng.integers(0, SPAN_DAYS * 86400, n).astype("timedelta64[s]")
    return [f"{s}+00:00" for s in np.datetime_as_string(FIRST_DAY + offsets)]


@dataclass
class Groups:
    """Prompt groups of 2-4 transcripts: transcripts [start[g], start[g + 1])."""

    start: Codes  # len = groups + 1, start[-1] = size

    @classmethod
    def of(cls, size: int) -> Groups:
        rng = np.random.default_rng([SEED, 0])
        ends = np.cumsum(rng.integers(2, 5, size // 2 + 1))
        ends = ends[: int(np.searchsorted(ends, size)) + 1]
        ends[-1] = size  # the last group takes what is left
        return cls(np.concatenate([[0], ends]).astype(np.int64))

    @property
    def count(self) -> int:
        return len(self.start) - 1

    def chunks(self) -> Iterator[tuple[int, int, int]]:
        """(chunk number, first group, end group) of CHUNK_GROUPS groups each."""
        for k, g0 in enumerate(range(0, self.count, CHUNK_GROUPS)):
            yield k, g0, min(g0 + CHUNK_GROUPS, self.count)


def system_prompts() -> list[str]:
    rng = np.random.default_rng([SEED, 9])
    return [
        f"You are a helpful assistant for {CATEGORIES[i % len(CATEGORIES)]} "
        "questions. " + sentence(rng, int(rng.integers(20, 40)))
        for i in range(24)
    ]


def sentence(rng: np.random.Generator, words: int) -> str:
    text = " ".join(_WORDS[rng.integers(0, len(_WORDS), words)].tolist())
    return text[0].upper() + text[1:] + "."


def transcript_rows(
    project_id: int, groups: Groups, g0: int, g1: int, k: int
) -> Iterator[tuple[Any, ...]]:
    """COPY rows of the transcripts of groups [g0, g1), in ordinal order."""
    rng = np.random.default_rng([SEED, 1, k])
    prompts = SYSTEM_PROMPTS
    t0, t1 = int(groups.start[g0]), int(groups.start[g1])
    n_groups, n = g1 - g0, t1 - t0
    question_len = rng.integers(12, 41, n_groups)
    answer_len = rng.integers(60, 151, n)
    words = _WORDS[
        rng.integers(0, len(_WORDS), int(question_len.sum() + answer_len.sum()))
    ].tolist()
    prompt_of = rng.integers(0, len(prompts), n_groups).tolist()
    category_of = rng.integers(0, len(CATEGORIES), n_groups).tolist()
    model_shift = rng.integers(0, len(MODELS), n_groups).tolist()
    created = stamps(rng, n)
    sizes = np.diff(groups.start[g0 : g1 + 1]).tolist()
    at = 0
    lengths = iter(answer_len.tolist())
    ordinal = t0
    for j, (size, qlen) in enumerate(zip(sizes, question_len.tolist(), strict=True)):
        question = " ".join(words[at : at + qlen])
        at += qlen
        question = question[0].upper() + question[1:] + "?"
        group = f"pg-{g0 + j:06d}"
        metadata = METADATA[category_of[j]]
        for position in range(size):
            alen = next(lengths)
            answer = " ".join(words[at : at + alen])
            at += alen
            messages = [
                {"role": "system", "content": prompts[prompt_of[j]]},
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer[0].upper() + answer[1:] + "."},
            ]
            yield (
                project_id,
                # Canonical JSON (sorted keys), as the import stores it.
                orjson.dumps(messages, option=orjson.OPT_SORT_KEYS).decode(),
                MODELS[(position + model_shift[j]) % len(MODELS)],
                DATASET,
                f"bx-{ordinal:07d}",
                group,
                metadata,
                f"{ordinal:064x}",  # only has to be unique within the project
                created[ordinal - t0],
            )
            ordinal += 1


SYSTEM_PROMPTS = system_prompts()
METADATA = [orjson.dumps({"category": c}).decode() for c in CATEGORIES]


@dataclass
class GoldChunk:
    """The gold of a chunk of items: per field, entry codes (see `entries`)."""

    disagreement: Weights
    adjudicated: Flags
    key_resolved: Flags
    fields: dict[str, tuple[Codes, Codes, Codes]]  # field -> value, method, conf


def gold_chunk(k: int, n: int) -> GoldChunk:
    """Gold of n items as gold_store would write it after 3 labels each (and a
    reviewer's decision for the adjudicated ones); seeded per chunk, so the
    items pass and the gold pass see the same chunk."""
    rng = np.random.default_rng([SEED, 2, k])
    true = true_labels(rng, n)
    pattern = draw(rng, np.broadcast_to(KEY_PATTERN, (n, 3)))
    adjudicated = (pattern > 0) & (rng.random(n) < ADJUDICATED_SHARE)
    none = REFUSAL.index("none")
    fields: dict[str, tuple[Codes, Codes, Codes]] = {}

    def one_of(
        values: Codes, method: Codes, options: Sequence[str]
    ) -> tuple[Codes, Codes, Codes]:
        method = np.where(adjudicated, ADJUDICATED, method)
        conf = np.select(
            [method == MAJORITY, method == UNRESOLVED], [C_TWO_THIRDS, NO_CONF], C_ONE
        )
        return np.where(method == UNRESOLVED, len(options), values), method, conf

    key_method = np.array([UNANIMOUS, MAJORITY, UNRESOLVED])[pattern]
    other = np.array([UNANIMOUS, MAJORITY, UNRESOLVED])
    fields["request_harm"] = one_of(
        true.harm, other[draw(rng, np.broadcast_to(SINGLE_METHOD, (n, 3)))], HARM
    )
    fields["refusal_type"] = one_of(true.refusal, key_method, REFUSAL)
    fields["appropriateness"] = one_of(
        true.appropriate,
        other[draw(rng, np.broadcast_to(SINGLE_METHOD, (n, 3)))],
        APPROPRIATE,
    )
    # failure_modes: a set (bits); never unresolved once labelled. Majority
    # when one or two labels differ by an option: 11/12 or 10/12 agree.
    multi_majority = rng.random(n) < 0.3
    fields["failure_modes"] = (
        true.failures,
        np.select(
            [adjudicated, multi_majority], [ADJUDICATED, MAJORITY], UNANIMOUS
        ).astype(np.int64),
        np.select(
            [adjudicated | ~multi_majority, rng.random(n) < 0.7],
            [C_ONE, C_11_12],
            C_10_12,
        ).astype(np.int64),
    )
    # Ratings: shown only to labels whose refusal_type is not none. With the
    # true value none, a 2-of-3 item had one label rating, a split two; else
    # all three did, or two when the dissent was none.
    is_none = true.refusal == none
    votes = np.where(
        is_none,
        pattern,
        np.where((pattern > 0) & (rng.random(n) < 0.5), 2, 3),
    )
    decided = adjudicated & ~is_none
    for j, name in enumerate(RATINGS):
        u = rng.random(n)
        agree = (votes == 1) | ((votes == 2) & (u < 0.4)) | ((votes == 3) & (u < 0.3))
        method = np.select(
            [decided, votes == 0, agree], [ADJUDICATED, UNRESOLVED, UNANIMOUS], MEDIAN
        ).astype(np.int64)
        conf = np.select(
            [
                method == UNRESOLVED,
                (method == UNANIMOUS) | (method == ADJUDICATED),
                votes == 2,
                rng.random(n) < 0.75,
            ],
            [NO_CONF, C_ONE, C_HALF, C_TWO_THIRDS],
            C_THIRD,
        ).astype(np.int64)
        value = np.where(method == UNRESOLVED, 0, true.ratings[:, j])
        fields[name] = (value.astype(np.int64), method, conf)
    key_value = fields["refusal_type"][0]
    return GoldChunk(
        disagreement=DISAGREEMENT[pattern],
        adjudicated=adjudicated,
        key_resolved=key_value < len(REFUSAL),
        fields=fields,
    )


def entry_value(name: str, code: int) -> str | int | list[str] | None:
    """A field's gold value from its code (None past the options, or rating 0)."""
    if name in RATINGS:
        return code or None
    if name == "failure_modes":
        return [f for j, f in enumerate(FAILURES) if code >> j & 1]
    options = {"request_harm": HARM, "refusal_type": REFUSAL}.get(name, APPROPRIATE)
    return options[code] if code < len(options) else None


def gold_values(chunk: GoldChunk) -> list[str]:
    """Each item's `values` JSON: field -> {"value", "method", "confidence"}, in
    schema order. Each field's few distinct entries are rendered once."""
    columns = []
    for name, (value, method, conf) in chunk.fields.items():
        code = (value * len(METHODS) + method) * len(CONFIDENCES) + conf
        distinct, inverse = np.unique(code, return_inverse=True)
        rendered = []
        for c in distinct.tolist():
            v, rest = divmod(c, len(METHODS) * len(CONFIDENCES))
            m, cf = divmod(rest, len(CONFIDENCES))
            entry = {
                "value": entry_value(name, v),
                "method": METHODS[m],
                "confidence": CONFIDENCES[cf],
            }
            rendered.append(f'"{name}":{orjson.dumps(entry).decode()}')
        columns.append(np.array(rendered, dtype=object)[inverse].tolist())
    return ["{" + ",".join(parts) + "}" for parts in zip(*columns, strict=True)]


def counts(project_id: int) -> tuple[int, int, int]:
    """Transcripts, items and gold rows of the project."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM annotate_transcript WHERE project_id = %s), "
            "(SELECT count(*) FROM annotate_item WHERE project_id = %s), "
            "(SELECT count(*) FROM annotate_gold g JOIN annotate_item i "
            "ON i.transcript_id = g.item_id WHERE i.project_id = %s)",
            [project_id] * 3,
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


@dataclass
class Load:
    transcripts: float
    items: float
    gold: float
    vacuum: float

    @property
    def total(self) -> float:
        return self.transcripts + self.items + self.gold + self.vacuum


def project_ensure(size: int) -> tuple[str, Load | None]:
    """The project's name and its load times (None when kept), loading it if
    missing or partial."""
    from django.db import connection, transaction
    from django.utils import timezone

    from annotate.models import Project
    from annotate.services.projects import label_set_version_get, project_create

    name = f"bench-export-{size}"
    project = Project.objects.filter(name=name).first()
    if (
        project is not None
        and project.items_total == size
        and counts(project.pk) == (size, size, size)
    ):
        return name, None
    groups = Groups.of(size)
    with transaction.atomic():
        if project is None:
            project = project_create(
                now=timezone.now(),
                name=name,
                label_set_version=label_set_version_get(name="refusal-v1"),
                overlap=LABELS,
            )
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            # Left partial: start over, in SQL (the ORM's cascade would load
            # every row into Python first).
            for sql in (
                "DELETE FROM annotate_gold WHERE item_id IN "
                "(SELECT transcript_id FROM annotate_item WHERE project_id = %s)",
                "DELETE FROM annotate_item WHERE project_id = %s",
                "DELETE FROM annotate_transcript WHERE project_id = %s",
            ):
                cursor.execute(sql, [project.pk])

            started = time.perf_counter()
            # One COPY, so the ids come out in the order the rows went in.
            with raw.copy(
                "COPY annotate_transcript (project_id, messages_json, source_model, "
                "dataset, external_id, prompt_group, metadata, content_hash, "
                "created_at) FROM STDIN"
            ) as copy:
                for k, g0, g1 in groups.chunks():
                    for row in transcript_rows(project.pk, groups, g0, g1, k):
                        copy.write_row(row)
            transcripts = time.perf_counter() - started

            started = time.perf_counter()
            ids = transcript_ids(raw, project.pk)
            if len(ids) != size:
                sys.exit(f"{name}: {len(ids)} transcripts after the COPY, not {size}")
            rng = np.random.default_rng([SEED, 3])
            with raw.copy(
                "COPY annotate_item (project_id, transcript_id, priority, slots_left, "
                "annotations_count, skips_count, disagreement) FROM STDIN"
            ) as copy:
                for k, t0, t1 in item_chunks(groups):
                    chunk = gold_chunk(k, t1 - t0)
                    priority = rng.random(t1 - t0).tolist()
                    for tid, p, d in zip(
                        ids[t0:t1].tolist(),
                        priority,
                        chunk.disagreement.tolist(),
                        strict=True,
                    ):
                        copy.write_row((project.pk, tid, p, 0, LABELS, 0, d))
            items = time.perf_counter() - started

            started = time.perf_counter()
            with raw.copy(
                "COPY annotate_gold (item_id, values, key_resolved, adjudicated, "
                "updated_at) FROM STDIN"
            ) as copy:
                for k, t0, t1 in item_chunks(groups):
                    chunk = gold_chunk(k, t1 - t0)
                    for row in zip(
                        ids[t0:t1].tolist(),
                        gold_values(chunk),
                        chunk.key_resolved.tolist(),
                        chunk.adjudicated.tolist(),
                        stamps(rng, t1 - t0),
                        strict=True,
                    ):
                        copy.write_row(row)
        Project.objects.filter(pk=project.pk).update(
            items_total=size,
            items_complete=size,
            annotations_total=size * LABELS,
        )
        gold = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table_name in ("annotate_transcript", "annotate_item", "annotate_gold"):
            cursor.execute(f"VACUUM ANALYZE {table_name}")
    return name, Load(transcripts, items, gold, time.perf_counter() - started)


def item_chunks(groups: Groups) -> Iterator[tuple[int, int, int]]:
    """(chunk number, first transcript ordinal, end ordinal), as the
    transcripts were generated."""
    for k, g0, g1 in groups.chunks():
        yield k, int(groups.start[g0]), int(groups.start[g1])


def transcript_ids(raw: Any, project_id: int) -> Codes:
    """The project's transcript ids in id order (= the COPY's row order)."""
    from psycopg import sql

    query = sql.SQL(
        "COPY (SELECT id FROM annotate_transcript WHERE project_id = {} "
        "ORDER BY id) TO STDOUT"
    ).format(sql.Literal(project_id))
    with raw.copy(query) as copy:
        data = b"".join(bytes(block) for block in copy)
    ids: Codes = np.array(data.split(), dtype=np.int64)
    return ids


# Runs.


def others_running() -> bool:
    """Whether another benchmark is running (this 2-core machine is shared)."""
    return (
        subprocess.run(
            ["pgrep", "-f", r"bench/(queue|agreement)\.py"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )


def wait_alone(patience: float) -> None:
    if not others_running():
        return
    print(
        "  waiting for bench/queue.py or bench/agreement.py to finish ...", flush=True
    )
    deadline = time.monotonic() + patience
    while others_running():
        if time.monotonic() > deadline:
            sys.exit(f"another bench still running after {patience:.0f} s")
        time.sleep(10)


def run_once(
    url: str, project: str, kind: str, *, profile: bool = False
) -> tuple[dict[str, Any], str]:
    """One export of `kind` in a fresh process: its JSON line, with the
    file's rows per prompt group added ("per_group"), and its stderr (the
    profile, when asked for). Exits unless the manifest's rows and bytes are
    the file's."""
    fd, path = tempfile.mkstemp(prefix="bench-export-", suffix=".jsonl")
    os.close(fd)
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                MEASURED,
                project,
                path,
                kind,
                "profile" if profile else "plain",
            ],
            env=env(url),
            check=False,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if done.returncode:
            sys.exit(f"export run failed:\n{done.stderr}")
        written = os.path.getsize(path)
        per_group = Counter(groups_of(path, kind))
    finally:
        os.unlink(path)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["per_group"] = per_group
    lines = sum(per_group.values())
    tallied = [sum(result["by_split"].values())]
    if kind != "gold":
        tallied.append(sum(result["by_reason"].values()))
    if (
        result["bytes"] != written
        or lines != result["rows"]
        or any(n != result["rows"] for n in tallied)
    ):
        sys.exit(
            f"{project} {kind}: the manifest says {result['rows']} rows "
            f"(by split and reason {tallied}) and {result['bytes']} bytes; "
            f"the file has {lines} lines and {written} bytes"
        )
    return result, done.stderr


def groups_of(path: str, kind: str) -> Iterator[str]:
    """Each row's prompt group ("" for gold), from the file as written."""
    if kind.endswith("-parquet"):
        import pyarrow.parquet as pq

        column = pq.read_table(path, columns=["prompt_group"]).column(0)
        yield from column.to_pylist()
        return
    with open(path, "rb") as f:
        for line in f:
            yield orjson.loads(line)["prompt_group"] if kind != "gold" else ""


def gold_read(project: str, kind: str, size: int) -> int:
    """Gold rows the export reads: every row for gold (include_unresolved),
    the rows whose key field has gold for pairs and sft."""
    if kind == "gold":
        return size
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM annotate_gold g JOIN annotate_item i "
            "ON i.transcript_id = g.item_id JOIN annotate_project p "
            "ON p.id = i.project_id WHERE p.name = %s AND g.key_resolved",
            [project],
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def spread(values: list[float], digits: int) -> str:
    return (
        f"{median(values):,.{digits}f} "
        f"({min(values):,.{digits}f}–{max(values):,.{digits}f})"
    )


def pairs_per_group(per_group: Counter[str], groups: int) -> str:
    """How many prompt groups got 0, 1, 2, ... pairs, and the mean."""
    made = Counter(per_group.values())
    made[0] = groups - len(per_group)
    shares = ", ".join(
        f"{n} pairs {made[n] / groups:.1%}" for n in sorted(made) if made[n]
    )
    return f"mean {per_group.total() / groups:.2f} of {groups:,} groups ({shares})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per kind and size")
    parser.add_argument(
        "--kind",
        choices=[*KINDS, "all"],
        default="all",
        help="the export to measure (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the 100,000-item project only, 1 run of each kind",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile one 1M run of each kind even when the gold rows/s goal is met",
    )
    parser.add_argument(
        "--patience",
        type=float,
        default=4 * 3600,
        help="seconds to wait for a running bench/queue.py or agreement.py",
    )
    args = parser.parse_args()
    kinds = KINDS if args.kind == "all" else (args.kind,)
    sizes = SIZES[:1] if args.quick else SIZES
    if args.quick:
        args.runs = 1
    url = database_url()
    ensure_database(url)
    django_setup(url)
    projects = {}
    for size in sizes:
        projects[size], load = project_ensure(size)
        if load is None:
            print(f"  kept {projects[size]}", flush=True)
        else:
            print(
                f"  loaded {projects[size]}: {size:,} transcripts, items and gold "
                f"in {load.total:.0f} s (transcripts {load.transcripts:.0f} s, "
                f"items {load.items:.0f} s, gold {load.gold:.0f} s, "
                f"VACUUM ANALYZE {load.vacuum:.0f} s; loader peak RSS "
                f"{peak_mb():.0f} MB)",
                flush=True,
            )
    read = {(k, s): gold_read(projects[s], k, s) for k in kinds for s in sizes}
    from django.db import connection

    connection.close()  # no idle bench connection holding a snapshot

    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    per_group: dict[int, Counter[str]] = {}
    for kind in kinds:
        for size in sizes:
            wait_alone(args.patience)
            # Warm-up (page cache, not measured); it also fixes the row count
            # that every measured run must repeat.
            warm = run_once(url, projects[size], kind)[0]
            if kind == "gold" and warm["rows"] != size:
                sys.exit(f"{projects[size]} gold: {warm['rows']} rows, not {size}")
            if kind == "pairs":
                per_group[size] = warm["per_group"]
            runs = results[kind, size] = []
            for _ in range(args.runs):
                wait_alone(args.patience)
                checkpoint(url)
                r = run_once(url, projects[size], kind)[0]
                if r["rows"] != warm["rows"]:
                    sys.exit(
                        f"{projects[size]} {kind}: {r['rows']} rows, "
                        f"not the warm-up's {warm['rows']}"
                    )
                runs.append(r)
                print(
                    f"  {kind} {size:,}: run {len(runs)}: {r['wall']:.2f} s, "
                    f"{r['rows']:,} rows, {r['rows'] / r['wall']:,.0f} rows/s",
                    flush=True,
                )

    print(
        f"export: {args.runs} runs per kind and size, {machine()}; alpha={{}}; "
        "gold: gold_export, JSONL, every row (include_unresolved); "
        'pairs, sft: training_export, ExportOptions(kind="pairs"|"sft"), '
        "JSONL (pairs-parquet: Parquet), other options default"
    )
    rows = []
    for kind in kinds:
        for size in sizes:
            runs = results[kind, size]
            goal = f"< {GOAL_RSS_MB:.0f} MB"
            if kind == "gold":
                goal = f">= {GOAL_ROWS_PER_SECOND:,.0f} rows/s, {goal}"
            rows.append(
                [
                    kind,
                    f"{size:,}",
                    f"{read[kind, size]:,}",
                    f"{runs[0]['rows']:,}",
                    spread([r["rows"] / r["wall"] for r in runs], 0),
                    spread([read[kind, size] / r["wall"] for r in runs], 0),
                    spread([r["wall"] for r in runs], 2),
                    spread([r["cpu"] for r in runs], 2),
                    f"{median([r['bytes'] / 2**20 for r in runs]):,.0f}",
                    spread([r["rss_kb"] / 1024 for r in runs], 0),
                    goal,
                ]
            )
    print(
        table(
            [
                "kind",
                "items",
                "gold rows read",
                "rows written",
                "rows written/s median (min–max)",
                "gold rows read/s",
                "seconds",
                "export CPU s",
                "MB written",
                "peak RSS MB",
                "goal",
            ],
            rows,
        )
    )
    if "gold" in kinds:
        for size in sizes:
            rate = median([size / r["wall"] for r in results["gold", size]])
            verdict = "met" if rate >= GOAL_ROWS_PER_SECOND else "NOT met"
            print(
                f"Goal gold rows/s at {size:,}: median {rate:,.0f} "
                f"(>= {GOAL_ROWS_PER_SECOND:,.0f}): {verdict}."
            )
            figure(
                f"gold export of {size:,} rows, rows/s (median)",
                f"{rate:,.0f}",
                f">= {GOAL_ROWS_PER_SECOND:,.0f}",
                rate >= GOAL_ROWS_PER_SECOND,
                runs=args.runs,
            )
    for kind in kinds:
        peaks = {s: max(r["rss_kb"] / 1024 for r in results[kind, s]) for s in sizes}
        print(
            f"Goal {kind} peak RSS: highest run "
            + ", ".join(f"{s:,}: {p:.0f} MB" for s, p in peaks.items())
            + f" (< {GOAL_RSS_MB:.0f} whatever the row count; {sizes[-1]:,} vs "
            f"{sizes[0]:,}: {peaks[sizes[-1]] - peaks[sizes[0]]:+.0f} MB): "
            f"{'met' if max(peaks.values()) < GOAL_RSS_MB else 'NOT met'}."
        )
        figure(
            f"{kind} export peak RSS MB (highest run, at "
            + " and ".join(f"{s:,}" for s in sizes)
            + " items)",
            " / ".join(f"{p:.0f}" for p in peaks.values()),
            f"< {GOAL_RSS_MB:.0f}",
            max(peaks.values()) < GOAL_RSS_MB,
            runs=args.runs,
        )
        if kind != "gold":
            big = sizes[-1]
            figure(
                f"{kind} export at {big:,} items, rows written/s (median)",
                f"{median([r['rows'] / r['wall'] for r in results[kind, big]]):,.0f}",
                "",
                None,
                runs=args.runs,
            )
    for size, made in per_group.items():
        print(
            f"Pairs per prompt group at {size:,}: "
            + pairs_per_group(made, Groups.of(size).count)
        )
    for kind in kinds:
        for size in sizes:
            reasons = results[kind, size][0]["by_reason"]
            if reasons:
                print(
                    f"{kind} rows by reason at {size:,}: "
                    + ", ".join(f"{why} {n:,}" for why, n in reasons.items())
                )

    big = sizes[-1]
    for kind in kinds:
        slow = (
            kind == "gold"
            and median([big / r["wall"] for r in results["gold", big]])
            < GOAL_ROWS_PER_SECOND
        )
        if not (args.profile or slow):
            continue
        wait_alone(args.patience)
        checkpoint(url)
        result, profile = run_once(url, projects[big], kind, profile=True)
        print(
            f"\nProfile of one {kind} {big:,} run under cProfile ({result['wall']:.1f} s "
            "with the profiler's overhead), top 25 by tottime:"
        )
        print(profile.strip())


if __name__ == "__main__":
    main()
