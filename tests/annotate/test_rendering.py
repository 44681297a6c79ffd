"""The markdown filter: safe on adversarial text, and cheap on any of it.

The timings are a guard against a blow-up, not a benchmark: Python-Markdown
took ~40 s on 16,000 "[" (past gunicorn's 30 s timeout), and 2 s is generous
enough for a slow machine. CPU time, not wall time: a machine busy with other
work (CI beside other jobs) stretches wall time 2x, not this process's CPU.
"""

from __future__ import annotations

import time

import pytest

from annotate.templatetags import rendering
from annotate.templatetags.rendering import markdown

BUDGET_S = 2.0
PLAIN = "Shown as plain text"


def timed(text: str) -> tuple[str, float]:
    rendering._cached.cache_clear()  # the cost of rendering it, not of a lookup
    start = time.process_time()
    html = markdown(text)
    return str(html), time.process_time() - start


def test_raw_html_is_shown_as_text_and_links_are_sanitised():
    html = markdown(
        "**Bold** [ok](https://example.org) [bad](javascript:alert(1))\n\n"
        "<script>alert(1)</script><img src=x onerror=alert(1)>"
    )

    assert "<strong>Bold</strong>" in html
    assert (
        '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>'
        in html
    )
    # A dead link, not a script, and not markdown-it's literal text either.
    assert '<a rel="noopener noreferrer nofollow">bad</a>' in html
    assert "javascript:" not in html
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
        in html
    )
    assert "<script" not in html
    assert "<img" not in html


def test_tables_code_and_lists_render_but_images_do_not():
    html = markdown(
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
        "```python\nprint('<b>')\n```\n\n"
        "![alt](https://example.org/x.png)\n\n- one\n- two\n"
    )

    assert "<th>a</th>" in html
    assert "<td>2</td>" in html
    assert "<pre><code>print('&lt;b&gt;')\n</code></pre>" in html
    assert "<li>one</li>" in html
    assert "<img" not in html
    assert "example.org/x.png" not in html
    assert "style=" not in html
    assert "class=" not in html


def test_a_table_may_follow_a_paragraph_line():
    html = markdown("Results:\n| a | b |\n|---|---|\n| 1 | 2 |")

    assert "<p>Results:</p>" in html
    assert "<td>1</td>" in html


@pytest.mark.parametrize(
    ("text", "survives"),
    [
        pytest.param("[" * 16_000, "[" * 16_000, id="16000 ["),
        pytest.param("![" * 8_000, "![" * 8_000, id="8000 !["),
        pytest.param("[a](" * 4_000, "[a](" * 4_000, id="4000 [a]("),
        # After a letter, so they are a delimiter run rather than a rule.
        pytest.param("a" + "*" * 49_999, "*" * 49_999, id="50000 *"),
        pytest.param("a" + "_" * 49_999, "_" * 49_999, id="50000 _"),
        # Unclosed openers and stray closers, the other CommonMark classics.
        pytest.param("[a" * 15_000, "[a" * 15_000, id="15000 [a"),
        pytest.param("a]" * 15_000, "a]" * 15_000, id="15000 a]"),
        pytest.param("*a_ " * 10_000, "*a_ " * 10, id="10000 *a_"),
    ],
)
def test_pathological_inline_text_comes_through_as_text(text, survives):
    html, took = timed(text)

    assert took < BUDGET_S
    assert html.startswith("<p>")
    assert survives in html
    assert "<a" not in html
    assert PLAIN not in html


def test_a_line_of_markers_alone_is_a_rule():
    for marker in "*_":
        html, took = timed(marker * 50_000)

        assert took < BUDGET_S
        assert html.strip() == "<hr>"


def test_nested_emphasis_renders_with_its_text():
    html, took = timed("*" * 20_000 + "deep" + "*" * 20_000)

    assert took < BUDGET_S
    assert html.count("<strong>") == 10_000
    assert "deep" in html


def test_quotes_render_nested_to_a_sane_depth():
    html = markdown("> " * 10 + "quoted")

    assert html.count("<blockquote>") == 10
    assert "<p>quoted</p>" in html


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(">" * 49_990 + " deep", id="49990 >"),
        pytest.param("> " * 20_000 + "deep", id="20000 nested quotes"),
        pytest.param(
            "".join("  " * i + f"- item{i}\n" for i in range(150)),
            id="150 nested lists",
        ),
        pytest.param(
            "".join("   " * i + f"1. item{i}\n" for i in range(100)),
            id="100 nested ordered lists",
        ),
    ],
)
def test_nesting_past_the_limit_is_shown_as_plain_text_not_dropped(text):
    # markdown-it drops what is nested past its limit; Python-Markdown
    # raised RecursionError on 500 nested lists (a server error).
    html, took = timed(text)

    assert took < BUDGET_S
    assert PLAIN in html
    assert text.strip().splitlines()[-1].strip(" >-1.") in html
    assert "<blockquote>" not in html
    assert "<li>" not in html


def test_shallow_nested_lists_still_render():
    html = markdown("".join("  " * i + f"- item{i}\n" for i in range(5)))

    assert html.count("<ul>") == 5
    assert "<li>item4</li>" in html


def test_padded_table_rows_cannot_multiply_the_text():
    # A 256-column header over 256 one-character rows is 65k cells from
    # 1.5 kB; ten of them took markdown-it 27 s and made 6.6 MB of HTML.
    table = "|" + "a|" * 256 + "\n|" + "-|" * 256 + "\n" + "a\n" * 256
    html, took = timed("\n".join([table] * 10))

    assert took < BUDGET_S
    assert len(html) < 2 * 10 * len(table)
    assert "|a|a|a|" in html  # left as text, not dropped


def test_a_reused_reference_link_cannot_square_the_text():
    # Each use copies the URL: 22 kB of text made 20 MB of HTML.
    text = "[x]: https://example.org/" + "a" * 10_000 + "\n\n" + "[x]" * 4_000
    html, took = timed(text)

    assert took < BUDGET_S
    assert PLAIN in html
    assert len(html) < 2 * len(text)


def test_a_megabyte_turn_renders_quickly_as_plain_text():
    paragraph = (
        "Here is *some* prose with `code`, a [link](https://example.org), "
        "**bold** text and <script>alert(1)</script>.\n\n| a | b |\n|---|---|\n"
        "| 1 | 2 |\n\n- a list\n- of items\n\n"
    )
    text = paragraph * (1_000_000 // len(paragraph) + 1)
    assert len(text) > rendering.MAX_CHARS

    html, took = timed(text)

    assert took < BUDGET_S
    assert PLAIN in html
    assert html.count("Here is *some* prose") == text.count("Here is *some* prose")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
    assert "<a" not in html


def test_a_turn_just_under_the_size_limit_is_formatted():
    paragraph = "Some *prose* with a [link](https://example.org).\n\n"
    text = paragraph * (rendering.MAX_CHARS // len(paragraph))
    assert len(text) <= rendering.MAX_CHARS

    html, took = timed(text)

    assert took < BUDGET_S
    assert PLAIN not in html
    assert html.count("<em>prose</em>") == text.count("*prose*")


def test_a_turn_shown_again_is_rendered_once_and_alike():
    text = "A *reply* with [a link](https://example.org) and <script>x</script>"
    hits = rendering._cached.cache_info().hits

    first, again = markdown(text), markdown(text)

    assert again == first == rendering._clean(text)
    assert rendering._cached.cache_info().hits == hits + 1


def test_a_long_turn_is_not_kept():
    text = "word " * (rendering.CACHED_CHARS // 5 + 1)
    assert len(text) > rendering.CACHED_CHARS
    kept = rendering._cached.cache_info().currsize

    markdown(text)

    assert rendering._cached.cache_info().currsize == kept
