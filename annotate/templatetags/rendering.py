"""Markdown for untrusted text: rendered, then sanitised with nh3 (ammonia)."""

from __future__ import annotations

import markdown as md
import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Only what Markdown produces for prose and tables; no images (they would load
# from anywhere), no raw HTML beyond these tags, no style or event attributes.
TAGS = {
    "a", "p", "br", "hr", "em", "strong", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "del",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


@register.filter
def markdown(text: str) -> SafeString:
    """Markdown to HTML that can hold no script: nh3 keeps only TAGS, and
    links only to http(s) and mailto, opened without a referrer.

    Raw HTML in the text is shown as text, not dropped: an annotator judging
    leakage must see the <script> a model wrote.
    """
    converter = md.Markdown(extensions=["tables", "fenced_code", "sane_lists"])
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    html = converter.convert(text)
    clean = nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above
