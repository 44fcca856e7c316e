"""Markdown to safe HTML for the annotate page.

Model output and imported prompts are untrusted: markdown-it runs with raw HTML disabled
(so `<script>` arrives as text), then nh3 sanitises the result with an allow-list without
images (no tracking pixels, nothing fetched from elsewhere) and with safe link attributes.
Only the output of `render_markdown` is ever marked safe.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from webapp.catalog.text import renderable

_TAGS = (nh3.ALLOWED_TAGS - {"img", "area", "map"}) | {"pre", "code"}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "ol": {"start"},
    "td": {"align"},
    "th": {"align"},
}


@lru_cache(maxsize=2)
def _parser(allow_html: bool) -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": allow_html, "linkify": False, "breaks": True}).enable("table")


def render_markdown(text: str, *, allow_html: bool = False) -> SafeString:
    """Render markdown to sanitised HTML. `allow_html` only for staff-written text (guidelines)."""
    html = _parser(allow_html).render(renderable(text or ""))
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above
