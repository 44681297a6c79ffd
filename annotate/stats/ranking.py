"""The model behind the active-learning queue: per target field (a one-of label
field such as refusal_type or appropriateness) a linear classifier predicts a
transcript's label, and its uncertainty ranks the unlabelled transcripts.

Pure computation, no ORM: the database side fetches, stores and rescores.

- A transcript becomes a `Doc` of three text blocks (system prompt, user turns,
  assistant turns), each cut to MAX_BLOCK_CHARS, so a document's cost is bounded.
- Before any model can be trained, `refusal_score` is a transparent phrase rule
  and `heuristic_uncertainty` ranks by it (cold start).
- `train_field` fits hashed word and character n-grams, TF-IDF per block, a
  chi-squared selection of the most class-related columns and a multinomial
  logistic regression, and cross-validates its macro-F1.
- `uncertainty` (margin or entropy), `combined_uncertainty` over fields and
  `random_priority` (the tie-break, and the exploration share) rank.
- `dumps`/`loads` store the models as one versioned, compressed artefact.

Features are hashed by numpy code here rather than by scikit-learn's
HashingVectorizer: its Python analyzers measured 273 us per transcript for
word 1-2-grams and 1,720 us for char_wb 3-5-grams of a 950-character answer
(this machine), so 120,000 transcripts would take minutes; the vectorised
hashing below does all blocks in about 80 us. Hashing stores no vocabulary,
so the artefact's size does not grow with the corpus (feature hashing:
Weinberger et al. 2009, "Feature hashing for large scale multitask learning").
"""

from __future__ import annotations

import json
import math
import pickle
import re
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

# scipy ships no type hints (no py.typed).
import scipy.sparse as sp  # type: ignore[import-untyped]
import sklearn
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.feature_selection import SelectKBest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

type FloatArray = npt.NDArray[np.float64]
type U64 = npt.NDArray[np.uint64]
type U32 = npt.NDArray[np.uint32]

# Documents --------------------------------------------------------------------

ROLES = ("system", "user", "assistant")
TURN_SEPARATOR = "\n\n"
# Each block keeps its first MAX_BLOCK_CHARS characters: the brief's assistant
# turns run to ~1,500 characters and a refusal shows in its opening, so this
# keeps whole answers while a pasted book costs no more than a long answer.
MAX_BLOCK_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Doc:
    system: str
    user: str
    assistant: str


def doc_from_messages(messages: Sequence[Mapping[str, object]]) -> Doc:
    """Each role's turns in order, joined with a blank line, each block cut to
    its first MAX_BLOCK_CHARS characters. Messages whose role is none of
    system/user/assistant, or whose content is not a string, are left out."""
    turns: dict[str, list[str]] = {role: [] for role in ROLES}
    for message in messages:
        role, content = message.get("role"), message.get("content")
        if isinstance(role, str) and role in turns and isinstance(content, str):
            turns[role].append(content)
    system, user, assistant = (
        TURN_SEPARATOR.join(turns[role])[:MAX_BLOCK_CHARS] for role in ROLES
    )
    return Doc(system=system, user=user, assistant=assistant)


# The cold-start heuristic -----------------------------------------------------

# Lower case, straight apostrophes; matched as whole words after the
# normalisation of `_plain`. Drawn from the refusal styles in the label set's
# guidelines (policy, capability, scope) and the demo transcripts.
REFUSAL_PHRASES: tuple[str, ...] = (
    "i can't",
    "i cannot",
    "i can not",
    "i won't",
    "i will not",
    "i'm not able to",
    "i am not able to",
    "i'm unable to",
    "i am unable to",
    "unable to assist",
    "unable to help",
    "unable to provide",
    "unable to fulfil",
    "unable to fulfill",
    "i'm not going to",
    "i am not going to",
    "i must decline",
    "i have to decline",
    "i'll have to decline",
    "i need to decline",
    "respectfully decline",
    "i must refuse",
    "i refuse to",
    "i'd rather not",
    "i would rather not",
    "i'm sorry, but",
    "i am sorry, but",
    "sorry, but i",
    "i apologize, but",
    "i apologise, but",
    "my apologies, but",
    "as an ai",
    "against my guidelines",
    "against my policies",
    "against my programming",
    "violates my",
    "i'm not comfortable",
    "i am not comfortable",
    "i don't feel comfortable",
    "i do not feel comfortable",
    "i'm not permitted",
    "i am not permitted",
    "i'm not allowed to",
    "i am not allowed to",
    "i'm only able to help",
    "i can only help with",
    "i don't have access to",
    "i do not have access to",
    "i don't have the ability",
    "i do not have the ability",
    "outside the scope of",
    "beyond my capabilities",
    "not something i can",
    "not something i will",
    "not something i'll",
)
# Words after a phrase that make it no refusal: "I can't wait to", "I can't
# help but notice", "I cannot stress enough".
NOT_REFUSING_NEXT: tuple[str, ...] = (
    "wait",
    "believe",
    "stress",
    "emphasize",
    "emphasise",
    "overstate",
    "thank",
    "help but",
)
# How an answer opens when it complies ("Sure! Here's ...").
COMPLIANCE_OPENERS: tuple[str, ...] = (
    "sure",
    "certainly",
    "of course",
    "absolutely",
    "yes",
    "yep",
    "great question",
    "good question",
    "happy to help",
    "glad to help",
    "here",
)
# Phrases that hand something over, anywhere in the answer.
COMPLIANCE_PHRASES: tuple[str, ...] = (
    "here's",
    "here is",
    "here are",
    "here you go",
    "that said",
)
REFUSAL_HEAD_CHARS = 200  # a refusal phrase this early is the answer's gist
LONG_ANSWER_CHARS = 600  # refusals are short; the demo's run to ~400 characters
LATE_REFUSAL = 0.5  # refusal evidence of a phrase after the head
NO_CUE_SCORE = 0.2  # no phrase either way: most answers comply

_APOSTROPHES = str.maketrans(dict.fromkeys("\u2018\u2019\u02bc\u2032", "'"))


def _alternation(phrases: Sequence[str]) -> str:
    # Longest first, so "i cannot" is not read as a shorter phrase.
    return "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))


_REFUSAL = re.compile(
    rf"(?<![\w'])(?:{_alternation(REFUSAL_PHRASES)})(?![\w'])"
    rf"(?!\s+(?:{_alternation(NOT_REFUSING_NEXT)})\b)"
)
_OPENER = re.compile(rf"^\W*(?:{_alternation(COMPLIANCE_OPENERS)})(?![\w'])")
_HANDOVER = re.compile(rf"(?<![\w'])(?:{_alternation(COMPLIANCE_PHRASES)})(?![\w'])")
_CODE_FENCE = re.compile(r"^\s*(?:```|~~~)", re.MULTILINE)
# A list item starts a line ("- x", "* x", "1. x", "2) x"), or runs inline
# after a colon or a previous item ("Certainly! 1) ... 2) ...").
_LIST_ITEM = re.compile(r"(?:^|\s)(?:[-*\u2022]|\d{1,2}[.)])\s+\S", re.MULTILINE)


def _plain(text: str) -> str:
    """Lower case, curly apostrophes made straight, whitespace runs one space."""
    return " ".join(text.translate(_APOSTROPHES).lower().split())


def _compliance(raw: str, plain: str) -> float:
    cues = (
        _OPENER.search(plain) is not None,
        _HANDOVER.search(plain) is not None,
        _CODE_FENCE.search(raw) is not None or len(_LIST_ITEM.findall(raw)) >= 2,
        len(plain) >= LONG_ANSWER_CHARS,
    )
    return min(1.0, 0.5 * sum(cues))


def refusal_score(doc: Doc) -> float:
    """How likely the assistant's response refuses, in [0, 1], by a phrase rule.

    The assistant text is lower-cased, its curly apostrophes made straight and
    its whitespace runs made single spaces. Then:

    - refusal evidence r: 1 if a REFUSAL_PHRASES phrase ("I can't", "I'm not
      able to", "As an AI", "I'm sorry, but", "against my guidelines", ...)
      starts within its first REFUSAL_HEAD_CHARS characters, LATE_REFUSAL
      (0.5) if one starts only later, else 0. A phrase followed by one of
      NOT_REFUSING_NEXT ("I can't wait", "I can't help but") does not count.
    - compliance evidence c: 0.5 for each cue, at most 1: it opens with a
      COMPLIANCE_OPENERS word ("Sure", "Certainly", "Here"); it hands over
      ("here's", "here is", "that said"); it has a code block or a list of two
      or more items; it is at least LONG_ANSWER_CHARS characters long.
    - score: r * (1 - c / 2) when r > 0, so a clear refusal is 1 and one that
      goes on to answer in full (a partial refusal) is 0.5; NO_CUE_SCORE *
      (1 - c) when r = 0, so an answer without any cue is 0.2 (most answers
      comply) and a disclaimer followed by an answer ("I'm not a doctor, but
      here is ...") is near 0.
    """
    plain = _plain(doc.assistant)
    compliance = _compliance(doc.assistant, plain)
    found = _REFUSAL.search(plain)
    if found is None:
        return NO_CUE_SCORE * (1.0 - compliance)
    refusal = 1.0 if found.start() < REFUSAL_HEAD_CHARS else LATE_REFUSAL
    return refusal * (1.0 - compliance / 2.0)


def heuristic_uncertainty(doc: Doc) -> float:
    """1 - |2 s - 1| for s = refusal_score: 1 at s = 0.5, 0 at s = 0 or 1."""
    return 1.0 - abs(2.0 * refusal_score(doc) - 1.0)


# Features -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Block:
    """One Doc attribute's columns: word 1-2-grams hashed into 2**word_bits
    columns, then (if char_bits) character CHAR_NGRAMS-grams of its first
    char_bytes UTF-8 bytes hashed into 2**char_bits columns."""

    attribute: str
    word_bits: int
    char_bits: int = 0
    char_bytes: int = 0


CHAR_NGRAMS = (3, 4, 5)
# Character n-grams only for the opening of the answer: that is where the
# refusal's wording is (and they keep CJK text, one "word" to the tokenizer,
# readable). They cost about 3 columns per byte against about 0.3 for words,
# so on every block they tripled the columns and the time of TF-IDF and
# selection (measured: 2,230 against 955 per transcript); the system prompt
# and the request are told apart by their words.
BLOCKS: tuple[Block, ...] = (
    Block("system", word_bits=15),
    Block("user", word_bits=16),
    Block("assistant", word_bits=17, char_bits=17, char_bytes=256),
)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, odd
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_MIX3 = np.uint64(0xC2B2AE3D27D4EB4F)
# UTF-8 bytes that make up words: ASCII letters and digits, and every byte of
# a non-ASCII character (accented letters, CJK) so those are never cut.
_WORD_BYTE = np.zeros(256, dtype=bool)
_WORD_BYTE[np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", np.uint8)] = True
_WORD_BYTE[0x80:] = True
_APOSTROPHE = ord("'")
# _BYTE_MASK[k] keeps the low k bytes of a little-endian uint64.
_BYTE_MASK = np.array(
    [(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64
)
# Keys are (row << column bits) | column in uint32 (half the sort time of
# uint64), so a batch holds at most 2**(32 - column bits) documents; 512 also
# keeps a batch's arrays in the 4 MiB L2 cache.
_BATCH_DOCS = 512


def _mix(x: U64) -> U64:
    """The splitmix64 finaliser (Steele, Lea & Flood 2014, "Fast splittable
    pseudorandom number generators"): a bijection of uint64 whose every output
    bit depends on every input bit. uint64 arithmetic wraps in numpy."""
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    return x ^ (x >> np.uint64(31))


def _layout(blocks: Sequence[Block]) -> list[tuple[str, int, int]]:
    """(name, first column, end column) of every column range, in order."""
    ranges: list[tuple[str, int, int]] = []
    start = 0
    for block in blocks:
        for kind, bits in (("words", block.word_bits), ("chars", block.char_bits)):
            if bits:
                ranges.append((f"{block.attribute}_{kind}", start, start + (1 << bits)))
                start += 1 << bits
    return ranges


@dataclass(frozen=True, slots=True)
class _Buffer:
    """A batch of byte strings in one buffer, NUL before, between and after.

    windows[i] is the 8 bytes from i on as a little-endian uint64 (an
    unaligned strided view; 16 bytes of zero padding keep every read inside),
    rows[i] the row of byte i shifted into key position (a NUL after a row is
    that row's; the leading NUL is row 0's, and starts no n-gram)."""

    text: npt.NDArray[np.uint8]
    windows: U64
    rows: U32
    lengths: npt.NDArray[np.int64]

    @classmethod
    def of(cls, encoded: Sequence[bytes], column_bits: int) -> _Buffer:
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        raw = b"\0" + b"\0".join(encoded) + b"\0"
        rows = np.repeat(
            np.arange(len(encoded), dtype=np.uint32) << np.uint32(column_bits),
            lengths + 1,
        )
        return cls(
            text=np.frombuffer(raw, dtype=np.uint8),
            windows=np.ndarray(
                shape=(len(raw) + 8,), dtype="<u8", buffer=raw + bytes(16), strides=(1,)
            ),
            rows=np.concatenate((rows[:1], rows)),
            lengths=lengths,
        )


def _word_keys(buffer: _Buffer, bits: int, first_column: int) -> list[U32]:
    """Keys of word unigrams and bigrams: a word is a run of word bytes, with
    an apostrophe inside one ("can't"); a bigram two words in a row."""
    text = buffer.text
    is_word = _WORD_BYTE[text]
    is_word[1:-1] |= (text[1:-1] == _APOSTROPHE) & is_word[:-2] & is_word[2:]
    begin = np.flatnonzero(is_word[1:] > is_word[:-1]) + 1
    end = np.flatnonzero(is_word[:-1] > is_word[1:]) + 1
    length = end - begin
    # A word's identity: its length, first 16 and last 8 bytes (words longer
    # than 24 bytes that differ only inside collide, rare enough for hashing).
    windows = buffer.windows
    head = windows[begin] & _BYTE_MASK[np.minimum(length, 8)]
    middle = windows[begin + 8] & _BYTE_MASK[np.clip(length - 8, 0, 8)]
    tail = windows[np.maximum(end - 8, begin)] & _BYTE_MASK[np.minimum(length, 8)]
    word = _mix(
        _mix(head ^ (length.astype(np.uint64) << np.uint64(56)))
        ^ (middle * _GOLDEN)
        ^ (tail * _MIX3)
    )
    rows = buffer.rows[begin]
    same_row = rows[:-1] == rows[1:]
    bigram = (word[:-1][same_row] * _GOLDEN) ^ word[1:][same_row]
    shift = np.uint64(64 - bits)
    return [
        row | ((hashed >> shift).astype(np.uint32) + np.uint32(first_column))
        for row, hashed in ((rows, word), (rows[:-1][same_row], bigram))
    ]


def _char_keys(buffer: _Buffer, bits: int, first_column: int) -> list[U32]:
    """Keys of character n-grams (CHAR_NGRAMS): the n bytes from each byte on
    that stay inside the row, hashed by multiply-shift (Dietzfelbinger et al.
    1997, "A reliable randomized algorithm for the closest-pair problem").
    Computed for every byte by contiguous operations, then the windows that
    leave their row dropped: cheaper than gathering only the valid ones."""
    # room[i]: the bytes of its row from byte i on (0 at a NUL).
    ends = np.cumsum(buffer.lengths + 1)
    room = np.repeat(
        np.concatenate(([0], ends)), np.concatenate(([1], buffer.lengths + 1))
    )
    room -= np.arange(len(buffer.text))
    shift = np.uint64(64 - bits)
    windows = buffer.windows[: len(buffer.text)]
    keys = []
    for n in CHAR_NGRAMS:
        column = ((windows & _BYTE_MASK[n]) * _GOLDEN) >> shift
        keep = room >= n
        keys.append(
            buffer.rows[keep]
            | (column[keep].astype(np.uint32) + np.uint32(first_column))
        )
    return keys


def _block_keys(
    texts: Sequence[str],
    block: Block,
    word_start: int,
    char_start: int,
    column_bits: int,
) -> list[U32]:
    """The (row, column) keys of one block's n-grams for a batch of texts:
    lower-cased, with straight apostrophes, as UTF-8, and hashed by
    whole-array operations, no Python loop per n-gram."""
    # str.replace, not translate: 1 us against 10 us for a 1,000-character text.
    encoded = [
        t.lower().replace("\u2019", "'").replace("\u2018", "'").encode() for t in texts
    ]
    keys = _word_keys(_Buffer.of(encoded, column_bits), block.word_bits, word_start)
    if block.char_bits:
        prefixes = [e[: block.char_bytes] for e in encoded]
        buffer = _Buffer.of(prefixes, column_bits)
        keys += _char_keys(buffer, block.char_bits, char_start)
    return keys


def _features(docs: Sequence[Doc], blocks: Sequence[Block]) -> Any:
    """The docs' term weights: a CSR matrix (float32, sorted indices) with a
    column range per block and kind (see _layout). A weight is the sublinear
    term frequency 1 + log(count) (a word said ten times is not ten times the
    evidence: Manning, Raghavan & Schuetze 2008, 6.4.1), and each row's range
    has unit L2 norm, so a long answer's many n-grams do not drown the system
    prompt's few. Stateless, so it is fitted once whatever the folds."""
    ranges = _layout(blocks)
    range_starts = np.array([start for _, start, _ in ranges], dtype=np.uint32)
    n_columns = ranges[-1][2]
    column_bits = (n_columns - 1).bit_length()
    batch = min(_BATCH_DOCS, 1 << (32 - column_bits))
    column_mask = np.uint32((1 << column_bits) - 1)
    firsts = {name: start for name, start, _ in ranges}
    data: list[npt.NDArray[np.float32]] = []
    indices: list[npt.NDArray[np.int32]] = []
    indptr: list[npt.NDArray[np.int64]] = [np.zeros(1, dtype=np.int64)]
    for low in range(0, len(docs), batch):
        part = docs[low : low + batch]
        keys = []
        for block in blocks:
            keys += _block_keys(
                [getattr(doc, block.attribute) for doc in part],
                block,
                firsts[f"{block.attribute}_words"],
                firsts.get(f"{block.attribute}_chars", 0),
                column_bits,
            )
        # Sorted keys group by row, then column: a key's run length is its count.
        ordered = np.sort(np.concatenate(keys))
        first = _run_starts(ordered)
        unique = ordered[first]
        columns = unique & column_mask
        rows = unique >> np.uint32(column_bits)
        weight = np.log(_run_lengths(first, len(ordered)).astype(np.float32))
        weight += 1.0
        # (row, range) pairs are runs of the sorted keys too.
        pair = rows.astype(np.int64) * len(ranges)
        pair += np.searchsorted(range_starts, columns, side="right") - 1
        pair_first = _run_starts(pair)
        norm = np.sqrt(np.add.reduceat(weight * weight, pair_first))
        weight /= np.repeat(norm, _run_lengths(pair_first, len(pair)))
        data.append(weight)
        indices.append(columns.astype(np.int32))
        row_ends = np.searchsorted(rows, np.arange(1, len(part) + 1, dtype=np.uint32))
        indptr.append(row_ends + indptr[-1][-1])
    return sp.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.concatenate(indptr)),
        shape=(len(docs), n_columns),
    )


def _run_starts(values: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Where each run of equal values of a sorted array starts."""
    new = np.empty(len(values), dtype=bool)
    new[:1] = True
    np.not_equal(values[1:], values[:-1], out=new[1:])
    return np.flatnonzero(new)


def _run_lengths(starts: npt.NDArray[np.intp], total: int) -> npt.NDArray[np.intp]:
    """The lengths of the runs that start at `starts` (np.diff with append
    copies the array first: a tenth of the hashing's time)."""
    lengths = np.empty_like(starts)
    np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
    lengths[-1:] = total - starts[-1:]
    return lengths


# Models ---------------------------------------------------------------------------

MIN_LABELS = 30
MIN_CLASSES = 2
CV_FOLDS = 5
# Columns kept by the chi-squared test. The logistic regression's cost is per
# stored value: on 20,000 synthetic transcripts (/tmp bench, see the README)
# keeping 10,000 of the 360,448 columns cut the values per transcript from 949
# to ~300 and the fit from 22 s to ~2 s, at a lower held-out log loss; Yang &
# Pedersen (1997, "A comparative study on feature selection in text
# categorization") found chi-squared selection keeps a text classifier's
# accuracy down to a few percent of its vocabulary.
SELECTED_COLUMNS = 10_000
C = 1.0  # inverse L2 strength; rows have unit norm, so the usual scale
# A cap on the retrain's time (5 CV fits and the final one); measured fits
# stopped at tol within 16-40 iterations.
MAX_ITER = 100
TOL = 1e-3


class NotEnoughLabels(ValueError):
    """Too few labels, or too few classes among them, to train a model."""


@dataclass
class FieldModel:
    field: str
    classes: list[str]
    pipeline: Any  # the fitted sklearn Pipeline: Doc sequence -> class probabilities
    n_train: int
    cv_macro_f1: float | None  # None when a class has fewer than 2 labels
    train_seconds: float


def _chi2_scores(x: Any, y: npt.NDArray[Any]) -> FloatArray:
    """sklearn.feature_selection.chi2's statistic, sum over classes of
    (observed - expected)**2 / expected of each column's weight sums, by one
    bincount instead of its sparse product (0.87 s against ~0.1 s on 20,000
    transcripts), and without the p-values SelectKBest would store (a float
    per column) and never use. A column no row has scores 0."""
    classes, codes = np.unique(y, return_inverse=True)
    n_rows, n_columns = x.shape
    entry_class = np.repeat(codes, np.diff(x.indptr))
    observed = np.bincount(
        entry_class * n_columns + x.indices,
        weights=x.data,
        minlength=len(classes) * n_columns,
    ).reshape(len(classes), n_columns)
    class_share = np.bincount(codes, minlength=len(classes)) / n_rows
    expected = np.outer(class_share, observed.sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (observed - expected) ** 2 / expected
    return np.asarray(np.where(expected > 0, terms, 0.0).sum(axis=0), dtype=np.float64)


def _tail(seed: int) -> Pipeline:
    """Everything fitted, after the stateless hashing."""
    return Pipeline(
        [
            ("select", SelectKBest(_chi2_scores, k=SELECTED_COLUMNS)),
            # The kept columns' inverse document frequencies, then unit rows.
            ("tfidf", TfidfTransformer()),
            (
                "clf",
                # Multinomial logistic regression rather than
                # CalibratedClassifierCV around a linear SVM: its probabilities
                # are calibrated by its own log loss in one fit, where the SVM
                # needs one per calibration fold as well (measured: 33 s on
                # 20,000 transcripts for LinearSVC with 3-fold sigmoid
                # calibration, against 1-2 s here); and multinomial rather than
                # one-vs-rest, so the classes' probabilities compete, which is
                # what the margin reads.
                LogisticRegression(C=C, tol=TOL, max_iter=MAX_ITER, random_state=seed),
            ),
        ]
    )


def _fit(x: Any, y: npt.NDArray[Any], weights: FloatArray, seed: int) -> Pipeline:
    return _tail(seed).fit(x, y, clf__sample_weight=weights)


def train_field(
    *,
    field: str,
    docs: Sequence[Doc],
    labels: Sequence[str],
    weights: Sequence[float] | None = None,
    seed: int = 0,
    min_labels: int = MIN_LABELS,
) -> FieldModel:
    """Fit the field's model on labelled docs (weights: each label's weight,
    e.g. its annotator's reliability; a label of weight 0 is left out) and
    cross-validate it: stratified k-fold, k = min(CV_FOLDS, smallest class
    count), folds shuffled by `seed`; macro-F1 over all classes, each held-out
    label counted by its weight. Deterministic for a seed (lbfgs draws nothing
    at random; the seed only shuffles the folds).

    Raises NotEnoughLabels with fewer than min_labels labels or MIN_CLASSES
    classes, and ValueError when docs, labels and weights differ in length or a
    weight is negative or not finite."""
    began = time.perf_counter()
    if len(labels) != len(docs):
        raise ValueError(f"{len(docs)} docs but {len(labels)} labels")
    w = np.ones(len(docs)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(docs),):
        raise ValueError(f"{len(docs)} docs but {w.size} weights")
    if not np.all(np.isfinite(w) & (w >= 0)):
        raise ValueError("weights must be finite and non-negative")
    kept = np.flatnonzero(w > 0)
    y = np.asarray(labels, dtype=object)[kept]
    w = w[kept]
    if len(y) < min_labels:
        raise NotEnoughLabels(f"{len(y)} labels; at least {min_labels} needed")
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < MIN_CLASSES:
        raise NotEnoughLabels(
            f"only one class ({classes[0]}) among {len(y)} labels; "
            f"at least {MIN_CLASSES} needed"
        )
    featurize = FunctionTransformer(_features, kw_args={"blocks": BLOCKS})
    x = featurize.fit_transform([docs[i] for i in kept.tolist()])
    folds = min(CV_FOLDS, int(counts.min()))
    cv_macro_f1 = None
    if folds >= 2:
        # Hashing is stateless, so it is done once; everything fitted is
        # refitted inside every fold.
        scores = []
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for train, test in splits.split(np.zeros(len(y)), y):
            fold = _fit(x[train], y[train], w[train], seed)
            scores.append(
                f1_score(
                    y[test],
                    fold.predict(x[test]),
                    labels=classes,
                    average="macro",
                    sample_weight=w[test],
                    zero_division=0.0,
                )
            )
        cv_macro_f1 = float(np.mean(scores))
    tail = _fit(x, y, w, seed)
    return FieldModel(
        field=field,
        classes=[str(c) for c in tail.classes_],
        pipeline=Pipeline([("features", featurize), *tail.steps]),
        n_train=len(y),
        cv_macro_f1=cv_macro_f1,
        train_seconds=time.perf_counter() - began,
    )


# Hashing a chunk makes ~2,000 uint32 keys and ~1,000 stored values per
# transcript: 5,000 at a time is ~100 MB, flat whatever the corpus size.
PREDICT_CHUNK = 5000


def predict_proba_many(
    models: Sequence[FieldModel], docs: Sequence[Doc]
) -> list[FloatArray]:
    """predict_proba for several fields at once, hashing each chunk of docs
    once for all of them (hashing is most of a prediction's cost)."""
    if not models:
        return []
    featurizers = [model.pipeline[0] for model in models]
    if any(f.kw_args != featurizers[0].kw_args for f in featurizers[1:]):
        raise ValueError("the models hash differently; predict them one at a time")
    out = [np.empty((len(docs), len(model.classes))) for model in models]
    for low in range(0, len(docs), PREDICT_CHUNK):
        x = featurizers[0].transform(docs[low : low + PREDICT_CHUNK])
        for model, proba in zip(models, out, strict=True):
            proba[low : low + x.shape[0]] = model.pipeline[1:].predict_proba(x)
    return out


def predict_proba(model: FieldModel, docs: Sequence[Doc]) -> FloatArray:
    """Class probabilities, shape (len(docs), len(model.classes)), columns in
    model.classes order, rows summing to 1; in chunks of PREDICT_CHUNK."""
    return predict_proba_many([model], docs)[0]


# Ranking ------------------------------------------------------------------------


def uncertainty(
    proba: npt.ArrayLike, *, kind: Literal["margin", "entropy"] = "margin"
) -> FloatArray:
    """Per row of class probabilities, in [0, 1], 1 = most uncertain:

    - margin: 1 - (p1 - p2), p1 and p2 the two largest (Scheffer et al. 2001,
      "Active hidden Markov models for information extraction");
    - entropy: Shannon entropy divided by log(k), its maximum for k classes
      (Settles 2009, "Active learning literature survey", 3.1).

    A row of a single class is certain: 0."""
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be 2-D (rows x classes), not {p.ndim}-D")
    n, k = p.shape
    if k < 2:
        return np.zeros(n)
    if kind == "margin":
        top2 = np.partition(p, k - 2, axis=1)[:, k - 2 :]
        result = 1.0 - (top2[:, 1] - top2[:, 0])
    elif kind == "entropy":
        terms = p * np.log(np.where(p > 0, p, 1.0))  # 0 log 0 = 0
        result = -terms.sum(axis=1) / math.log(k)
    else:
        raise ValueError(f"unknown uncertainty kind {kind!r}")
    return np.clip(result, 0.0, 1.0)


def combined_uncertainty(
    per_field: Sequence[npt.ArrayLike], weights: Sequence[float] | None = None
) -> FloatArray:
    """The weighted mean, per transcript, of the target fields' uncertainties
    (equal weights by default)."""
    if not per_field:
        raise ValueError("no fields to combine")
    stacked = np.vstack([np.asarray(u, dtype=np.float64) for u in per_field])
    if weights is None:
        return stacked.mean(axis=0)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(stacked),):
        raise ValueError(f"{len(stacked)} fields but {w.size} weights")
    if not np.all(np.isfinite(w) & (w >= 0)) or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all 0")
    return np.asarray(w @ stacked / w.sum(), dtype=np.float64)


def random_priority(seed: int, ids: npt.ArrayLike) -> FloatArray:
    """A uniform number in [0, 1) per id, a function of (seed, id) alone: the
    same whatever the order of ids or which other ids are passed.

    Two rounds of the splitmix64 finaliser over id and seed (Steele et al.
    2014); the top 53 bits make the double, as numpy's own generators do."""
    values = np.asarray(ids)
    if not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f"ids must be integers, not {values.dtype}")
    keyed = _mix(np.array([seed & ((1 << 64) - 1)], dtype=np.uint64) + _GOLDEN)
    hashed = _mix(_mix(values.astype(np.uint64) ^ keyed) + _GOLDEN)
    return (hashed >> np.uint64(11)).astype(np.float64) * 2.0**-53


# The artefact ---------------------------------------------------------------------

MAGIC = b"refusal-annotate ranking\n"
# Bump whenever a change here (features, BLOCKS, CHAR_NGRAMS, the pipeline's
# steps) would make an older artefact predict differently.
FORMAT_VERSION = 1
RETRAIN = "retrain the models to replace it"


class ModelLoadError(Exception):
    """The artefact cannot be used: another format or scikit-learn, or corrupt."""


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def dumps(models: Sequence[FieldModel]) -> bytes:
    """MAGIC, a JSON header line (format, scikit-learn and numpy versions,
    fields), then the models pickled and zlib-compressed."""
    header = {
        "format": FORMAT_VERSION,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "fields": [model.field for model in models],
    }
    body = zlib.compress(pickle.dumps(list(models), protocol=5), level=6)
    return MAGIC + json.dumps(header).encode() + b"\n" + body


def loads(data: bytes) -> list[FieldModel]:
    """The models of a dumps artefact. Raises ModelLoadError, saying a retrain
    is needed, when its format version or scikit-learn major.minor is not
    this one's (a pickled estimator is only supported by the version that
    wrote it), or it is corrupt; never anything else."""
    data = bytes(data)  # Django's BinaryField may hand back a memoryview
    if not data.startswith(MAGIC) or b"\n" not in data[len(MAGIC) :]:
        raise ModelLoadError(f"not a ranking model artefact; {RETRAIN}")
    line, body = data[len(MAGIC) :].split(b"\n", 1)
    try:
        header = json.loads(line)
        written = (header["format"], _minor(str(header["sklearn"])))
    except (ValueError, TypeError, KeyError) as error:
        raise ModelLoadError(
            f"unreadable artefact header ({error}); {RETRAIN}"
        ) from error
    if written != (FORMAT_VERSION, _minor(sklearn.__version__)):
        raise ModelLoadError(
            f"artefact format {written[0]} from scikit-learn {written[1]}, but "
            f"this is format {FORMAT_VERSION} with scikit-learn "
            f"{_minor(sklearn.__version__)}; {RETRAIN}"
        )
    try:
        # Artefacts are written by dumps into this application's own storage;
        # a pickle from anywhere else could run code, so never load one.
        models = pickle.loads(zlib.decompress(body))  # noqa: S301
    except Exception as error:
        # Unpickling a damaged stream can raise almost anything.
        raise ModelLoadError(f"corrupt artefact ({error!r}); {RETRAIN}") from error
    if not (
        isinstance(models, list) and all(isinstance(m, FieldModel) for m in models)
    ):
        raise ModelLoadError(f"the artefact holds no list of field models; {RETRAIN}")
    return models
