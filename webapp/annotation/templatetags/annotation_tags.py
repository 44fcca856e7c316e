"""Template filters for the annotate page."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from webapp.annotation.rendering import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: object) -> SafeString:
    """Untrusted markdown (model output, prompts) to sanitised HTML; raw HTML stays text."""
    return render_markdown(text if isinstance(text, str) else ("" if text is None else str(text)))


@register.filter(name="guidelines")
def guidelines_filter(text: str) -> SafeString:
    """Staff-written guidelines: inline HTML allowed, still sanitised."""
    return render_markdown(text, allow_html=True)
