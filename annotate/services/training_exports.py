"""Training exports of the gold: preference pairs (kind pairs) and chat rows
for supervised fine-tuning (kind sft), in the shapes TRL and Hugging Face
`datasets` read as they are.

The machinery is the gold export's (exports.py): one snapshot, rows streamed
from a server-side cursor, the split by prompt group, a manifest with the
sha256 of the bytes written. Pairs are made within a prompt group, read in
group order, so at most one group's rows are held at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any, BinaryIO

import orjson
from django.db import connection, transaction

from annotate import exporters
from annotate.models import Project
from annotate.services.exports import (
    PROGRESS_EVERY,
    ExportOptions,
    Progress,
    _stream,
    _where,
)

APPROPRIATE = frozenset({"appropriate_refusal", "appropriate_compliance"})
INAPPROPRIATE = frozenset({"over_refusal", "under_refusal"})
QUALITY = ("acknowledge", "explain", "redirect", "respect")
_HARM_WORDS = {
    "benign": "a benign request",
    "harmful": "a harmful request",
    "context_dependent": "a context-dependent request",
}
_FAILURE_WORDS = {"over_refusal": "over-refusal", "under_refusal": "under-refusal"}
# The gold a training row carries beside it, of each side.
GOLD_FIELDS = ("request_harm", "refusal_type", "appropriateness", *QUALITY)

_ROWS = """
    SELECT t.id, t.external_id, t.messages_json, t.source_model,
        t.prompt_group, CAST(g."values" AS TEXT)
    FROM annotate_gold g
    JOIN annotate_item i ON i.transcript_id = g.item_id
    JOIN annotate_transcript t ON t.id = g.item_id
    WHERE {where} AND g.key_resolved ORDER BY {order}"""


@dataclass(frozen=True)
class Response:
    """One transcript as a training row sees it: the conversation before its
    last assistant turn, and that turn."""

    id: int
    external_id: str
    model: str
    group: str
    prompt: list[dict[str, Any]]
    response: str
    gold: dict[str, Any]

    @property
    def export_id(self) -> str:
        return self.external_id or str(self.id)

    def value(self, field: str) -> Any:
        entry = self.gold.get(field)
        return entry.get("value") if entry else None

    def confidence(self) -> float | None:
        entry = self.gold.get("appropriateness")
        return entry.get("confidence") if entry else None

    def quality(self) -> float | None:
        """The mean of the four refusal ratings; None unless all four have gold."""
        ratings = [self.value(name) for name in QUALITY]
        numbers = [float(r) for r in ratings if isinstance(r, int | float)]
        return sum(numbers) / len(numbers) if len(numbers) == len(QUALITY) else None


def _response(row: Sequence[Any]) -> Response | None:
    tid, external, messages, model, group, gold = row
    turns = orjson.loads(messages)
    last = next(
        (
            n
            for n in range(len(turns) - 1, -1, -1)
            if turns[n].get("role") == "assistant"
        ),
        None,
    )
    if last is None:  # nothing answered: no response to train on
        return None
    return Response(
        id=tid,
        external_id=external,
        model=model,
        group=group,
        prompt=turns[:last],
        response=str(turns[last].get("content", "")),
        gold=orjson.loads(gold),
    )


def _confident(r: Response, options: ExportOptions) -> bool:
    if options.min_confidence is None:
        return True
    confidence = r.confidence()
    return confidence is not None and confidence >= options.min_confidence


def pairs_of_group(
    group: Sequence[Response], options: ExportOptions
) -> Iterator[tuple[Response, Response, str]]:
    """(chosen, rejected, reason) for a prompt group's responses, in item order.

    Appropriate against over- or under-refusing, and, with quality_margin, the
    better of two appropriate refusals by at least that margin; with
    behaviour_differs, only where the two refusal types' gold differ. Only
    responses to the very same conversation are paired; at most
    max_pairs_per_group pairs, the first ones in item order.
    """
    made = 0
    eligible = [r for r in group if _confident(r, options)]
    for a, b in combinations(eligible, 2):
        if (
            options.max_pairs_per_group is not None
            and made >= options.max_pairs_per_group
        ):
            return
        if a.prompt != b.prompt:
            continue
        pair = _pair(a, b, options)
        if pair is not None and options.behaviour_differs:
            types = {a.value("refusal_type"), b.value("refusal_type")}
            pair = pair if len(types) == 2 and None not in types else None
        if pair is not None:
            made += 1
            yield pair


def _pair(
    a: Response, b: Response, options: ExportOptions
) -> tuple[Response, Response, str] | None:
    va, vb = a.value("appropriateness"), b.value("appropriateness")
    for good, bad, bad_value in ((a, b, vb), (b, a, va)):
        if good.value("appropriateness") in APPROPRIATE and bad_value in INAPPROPRIATE:
            harm = _HARM_WORDS.get(bad.value("request_harm"), "a request")
            return good, bad, f"rejected: {_FAILURE_WORDS[bad_value]} of {harm}"
    if options.quality_margin is None or not va == vb == "appropriate_refusal":
        return None
    qa, qb = a.quality(), b.quality()
    if qa is None or qb is None or qa == qb or abs(qa - qb) < options.quality_margin:
        return None
    good, bad = (a, b) if qa > qb else (b, a)
    return good, bad, f"chosen: better refusal quality (+{abs(qa - qb):.2f})"


def _gold_of(r: Response) -> dict[str, Any]:
    return {name: entry for name, entry in r.gold.items() if name in GOLD_FIELDS}


def pair_row(
    chosen: Response, rejected: Response, reason: str, split: str
) -> dict[str, Any]:
    """A row in TRL's conversational preference form, with its provenance."""
    return {
        "prompt": chosen.prompt,
        "chosen": [{"role": "assistant", "content": chosen.response}],
        "rejected": [{"role": "assistant", "content": rejected.response}],
        "chosen_id": chosen.export_id,
        "rejected_id": rejected.export_id,
        "chosen_model": chosen.model,
        "rejected_model": rejected.model,
        "chosen_gold": _gold_of(chosen),
        "rejected_gold": _gold_of(rejected),
        "reason": reason,
        "prompt_group": chosen.group,
        "split": split,
    }


def sft_reason(r: Response, options: ExportOptions) -> str | None:
    """Why `r` belongs in the fine-tuning set (its appropriateness), or None
    when it does not."""
    appropriateness = r.value("appropriateness")
    if appropriateness not in APPROPRIATE or not _confident(r, options):
        return None
    if options.refusal_type and r.value("refusal_type") != options.refusal_type:
        return None
    if options.request_harm and r.value("request_harm") != options.request_harm:
        return None
    if options.min_quality is not None and appropriateness == "appropriate_refusal":
        quality = r.quality()
        if quality is None or quality < options.min_quality:
            return None
    return str(appropriateness)


def sft_row(r: Response, split: str) -> dict[str, Any]:
    return {
        "messages": [*r.prompt, {"role": "assistant", "content": r.response}],
        "id": r.export_id,
        "model": r.model,
        "prompt_group": r.group,
        "gold": _gold_of(r),
        "split": split,
    }


def _groups(rows: Iterator[Response | None]) -> Iterator[list[Response]]:
    """Consecutive rows of one prompt group, as lists (rows come in group order)."""
    group: list[Response] = []
    for r in rows:
        if r is None:
            continue
        if group and r.group != group[0].group:
            yield group
            group = []
        group.append(r)
    if group:
        yield group


def training_export(
    *,
    project: Project,
    options: ExportOptions,
    stream: BinaryIO,
    alpha: dict[str, float | None],
    now: datetime,
    progress: Progress | None = None,
) -> exporters.Manifest:
    """Write the pairs or sft export of the project's gold to `stream` in
    options.fmt (JSONL or Parquet); its manifest (rows by split and by reason). The gold export's
    filters (model, dataset, agreement, adjudicated, dates) apply to every
    transcript; an export with no rows is an empty file."""
    version = project.label_set_version
    gold_fields = {
        f.name: f.kind for f in version.schema.fields if f.name in GOLD_FIELDS
    }
    filtered, params = _where(project, options)
    data = exporters.HashingStream(stream)
    tally = exporters.Tally([])
    reasons: Counter[str] = Counter()
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if own_transaction and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
                )
        if options.kind == "pairs":
            # A transcript of no group has nothing to be paired with.
            sql = _ROWS.format(
                where=f"{filtered} AND t.prompt_group <> ''",
                order="t.prompt_group, g.item_id",
            )
        else:
            sql = _ROWS.format(where=filtered, order="g.item_id")
        responses = (_response(row) for row in _stream(sql, params))
        with exporters.training_writer_for(
            options.fmt, data, kind=options.kind, gold_fields=gold_fields
        ) as writer:
            for seen, (out, reason) in enumerate(_rows(responses, options), 1):
                writer.write(out)
                tally.add({"key_resolved": True, "split": out["split"], "gold": {}})
                reasons[reason] += 1
                if progress and seen % PROGRESS_EVERY == 0:
                    progress(seen)
    manifest = exporters.manifest(
        fmt=options.fmt,
        label_set=version.label_set.name,
        label_set_version=version.number,
        schema=version.schema_data,
        filters=options.as_dict(),
        alpha=alpha,
        created_at=now,
        tally=tally,
        data=data,
    )
    manifest["kind"] = options.kind
    manifest["counts"]["by_reason"] = dict(sorted(reasons.items()))
    return manifest


def _rows(
    responses: Iterator[Response | None], options: ExportOptions
) -> Iterator[tuple[dict[str, Any], str]]:
    if options.kind == "pairs":
        for group in _groups(responses):
            split = exporters.split_of(
                group[0].group, group[0].id, ratios=options.ratios
            )
            for chosen, rejected, reason in pairs_of_group(group, options):
                yield pair_row(chosen, rejected, reason, split), reason
        return
    for r in responses:
        if r is None or (why := sft_reason(r, options)) is None:
            continue
        split = exporters.split_of(r.group, r.id, ratios=options.ratios)
        yield sft_row(r, split), why


def dataset_card(manifest: Mapping[str, Any], *, data_file: str) -> str:
    """A README.md in the Hugging Face dataset-card layout: a YAML header
    naming the data file, then the fields, counts, label definitions and
    agreement of the export `manifest` describes."""
    kind = manifest.get("kind", "gold")
    counts = manifest["counts"]
    lines = [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        f"    path: {data_file}",
        "tags:",
        "- refusal",
        f"- {kind}",
        "---",
        "",
        f"# {manifest['label_set']['name']} {kind} export",
        "",
        f"Exported {manifest['created_at']}; {counts['rows']} rows, "
        f"sha256 `{manifest['sha256']}`. Each row's `split` column holds its "
        "split, decided by its prompt group, so no prompt is in two splits.",
        "",
        "## Fields",
        "",
        *(f"- `{name}`: {text}" for name, text in _FIELDS[kind].items()),
        "",
        "## Counts",
        "",
        *(f"- {split}: {n}" for split, n in counts["by_split"].items()),
        *(f"- {reason}: {n}" for reason, n in counts.get("by_reason", {}).items()),
        "",
        "## Labels",
        "",
    ]
    for field in manifest["label_set"]["schema"].get("fields", []):
        lines.append(f"- `{field['name']}` ({field['kind']}): {field.get('help', '')}")
        lines += (
            f"  - `{o['value']}`: {o.get('help', o.get('label', ''))}"
            for o in field.get("options", [])
        )
    lines += ["", "## Agreement (Krippendorff's alpha)", ""]
    lines += (
        f"- {name}: {'n/a' if a is None else f'{a:.3f}'}"
        for name, a in manifest["alpha"].items()
    )
    return "\n".join(lines) + "\n"


_FIELDS: dict[str, dict[str, str]] = {
    "pairs": {
        "prompt": "the conversation before the response (messages)",
        "chosen": "the preferred assistant turn",
        "rejected": "the dispreferred assistant turn",
        "chosen_id, rejected_id": "the transcripts' ids",
        "chosen_model, rejected_model": "the models that answered",
        "chosen_gold, rejected_gold": "gold per field: value, method, confidence",
        "reason": "why the chosen side is preferred",
        "prompt_group": "the group of responses to one conversation",
        "split": "train, validation or test",
    },
    "sft": {
        "messages": "the conversation up to the appropriate assistant turn",
        "id": "the transcript's id",
        "model": "the model that answered",
        "prompt_group": "the group of responses to one conversation",
        "gold": "gold per field: value, method, confidence",
        "split": "train, validation or test",
    },
    "gold": {
        "messages": "the transcript",
        "gold": "gold per field: value, method, confidence",
        "split": "train, validation or test",
    },
}
