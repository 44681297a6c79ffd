"""Markdown for untrusted text: rendered, then sanitised with nh3 (ammonia).

Transcripts are adversarial, so the renderer must be cheap on any input as
well as safe: markdown-it-py (CommonMark) is linear in the length of the
text where Python-Markdown was quadratic (16,000 "[" took ~40 s, past
gunicorn's 30 s timeout). Linear is not the same as cheap, though, so the
guards below bound what one turn can cost; past them the turn is shown as
plain text, which loses formatting but never content.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_block import table as gfm_table
from markdown_it.token import Token

register = template.Library()

# Only what Markdown produces for prose and tables; no images (they would load
# from anywhere), no raw HTML beyond these tags, no style or event attributes.
TAGS = {
    "a", "p", "br", "hr", "em", "strong", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "del",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}

# Longer turns are shown as plain text. markdown-it-py's worst inputs (runs of
# "![" or "[") cost 30-90 us a character on a busy 2-core box, so this keeps a
# turn to a few seconds; 50,000 characters is ~12k tokens, longer than the
# chatbot turns we label.
MAX_CHARS = 50_000

# A table's header fixes its column count and short rows are padded, so
# "|a|a|...|" over a few thousand one-character rows is ~1.5 kB of text but
# 65k cells (~2.5 s); markdown-it caps that per table, not per document. A
# document may have as many cells as it has characters (real tables spend at
# least two on each); past that a table is left as paragraph text.
MIN_TABLE_CELLS = 1_000

# Reference links copy their URL and title to every use, so one long
# definition used many times grows the HTML with the square of the text
# (22 kB made 20 MB). Past this many copied bytes per character of text, the
# turn is shown as plain text.
MAX_LINK_BYTES_PER_CHAR = 4
MIN_LINK_BYTES = 10_000

# markdown-it silently drops whatever is nested deeper than its maxNesting
# (20 levels: ~20 quotes or ~10 lists). A container opened on the last level
# has lost its content, and an annotator must not miss what a model wrote.
_CONTAINERS = frozenset(
    {"blockquote_open", "bullet_list_open", "ordered_list_open", "list_item_open"}
)

# Keys in markdown-it's per-parse env, which is fresh for each call.
_CELLS_KEY = "refusal_annotate.table_cells"
_BLANKS_KEY = "refusal_annotate.next_blank"


class _Markdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        # nh3 is the one link policy (url_schemes below). markdown-it's own
        # check would leave [x](javascript:...) as literal text instead of a
        # dead link, so both would have to be kept in step.
        return True


def _next_blank(state: StateBlock) -> list[int]:
    """For each line, the first blank line at or after it (cached per parse).

    A table ends at a blank line whatever container it is in, so this bounds
    its rows in O(1) for each table rather than by rescanning the text.
    """
    cached = state.env.get(_BLANKS_KEY)
    if cached is not None and cached[0] is state.src:
        blanks: list[int] = cached[1]
        return blanks
    lines = state.src.split("\n")
    blanks = [len(lines)] * (len(lines) + 1)
    for i in range(len(lines) - 1, -1, -1):
        blanks[i] = i if not lines[i].strip(" \t") else blanks[i + 1]
    state.env[_BLANKS_KEY] = (state.src, blanks)
    return blanks


def _bounded_table(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """GFM tables, within a per-document budget of cells."""
    if not gfm_table(state, start, end, True):
        return False
    # It is a table, so line start + 1 is its delimiter row ("|--|:-:|"),
    # whose non-empty cells are the column count of every row.
    delimiter = state.src[
        state.bMarks[start + 1] + state.tShift[start + 1] : state.eMarks[start + 1]
    ]
    columns = sum(1 for cell in delimiter.split("|") if cell.strip())
    last_row = min(_next_blank(state)[start + 2], end)
    cells = columns * (last_row - start - 1)  # rows after it, and the header
    spent: int = state.env.get(_CELLS_KEY, 0)
    if spent + cells > max(len(state.src), MIN_TABLE_CELLS):
        return False
    if silent:
        return True
    state.env[_CELLS_KEY] = spent + cells
    return gfm_table(state, start, end, False)


# CommonMark with raw HTML off, so it is shown as text; GFM tables; fenced
# code is CommonMark. No linkify, no typographer (the preset's defaults).
_md = _Markdown("commonmark", {"html": False}).enable("table")
# Same place and same alternatives ("can interrupt a paragraph") as the rule
# it replaces; `at` would otherwise reset them.
_md.block.ruler.at("table", _bounded_table, {"alt": ["paragraph", "reference"]})
_MAX_NESTING: int = _md.options["maxNesting"]


def _too_complex(text: str, tokens: list[Token]) -> bool:
    """Whether the parse lost content or would expand too much to render."""
    link_bytes = 0
    for token in tokens:
        if token.type in _CONTAINERS and token.level >= _MAX_NESTING - 1:
            return True
        for child in token.children or ():
            if child.type in ("link_open", "image"):
                link_bytes += sum(len(str(v)) for v in child.attrs.values())
    return link_bytes > max(MAX_LINK_BYTES_PER_CHAR * len(text), MIN_LINK_BYTES)


def _plain(text: str) -> str:
    return (
        "<p><em>Shown as plain text: too long or complex to format.</em></p>"
        f"<pre>{escape(text)}</pre>"
    )


def _render(text: str) -> str:
    if len(text) > MAX_CHARS:
        return _plain(text)
    env: dict[str, object] = {}
    tokens = _md.parse(text, env)
    if _too_complex(text, tokens):
        return _plain(text)
    html: str = _md.renderer.render(tokens, _md.options, env)
    return html


# A claim's item panel, the submit's answer just before it and a reloaded tab
# all show the same turns: rendered once, for turns up to CACHED_CHARS (most
# of them), which bounds what the cache holds to a few MB a process.
CACHED_CHARS = 8_000
CACHED_TURNS = 256


@register.filter
def markdown(text: str) -> SafeString:
    """Markdown to HTML that can hold no script: nh3 keeps only TAGS, and
    links only to http(s) and mailto, opened without a referrer.

    Raw HTML in the text is shown as text, not dropped: an annotator judging
    leakage must see the <script> a model wrote.
    """
    if len(text) <= CACHED_CHARS:
        return _cached(text)
    return _clean(text)


def _clean(text: str) -> SafeString:
    clean = nh3.clean(
        _render(text),
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above


_cached = lru_cache(maxsize=CACHED_TURNS)(_clean)
