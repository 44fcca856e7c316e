"""What text may enter prefloop, and how stored text is made safe to render.

Text arrives from imports, forms and models. PostgreSQL refuses NUL, and a lone UTF-16
surrogate (valid in a Python str, invalid Unicode) makes the HTML sanitiser raise: both are
rejected on the way in, with the field named, and replaced on the way out, so a page never
fails on text that got stored before these checks existed.
"""

from __future__ import annotations

import re

from django.conf import settings

_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(text: str, max_bytes: int) -> str | None:
    """Why `text` cannot be stored (in words), or None."""
    if "\x00" in text:
        return "contains a NUL character"
    if _SURROGATE.search(text):
        return "contains a lone UTF-16 surrogate (not valid Unicode)"
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        return f"is {size:,} bytes; the limit is {max_bytes:,}"
    return None


def max_prompt_bytes() -> int:
    return settings.PREFLOOP_MAX_PROMPT_BYTES


def renderable(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD: always safe to sanitise and show."""
    return _SURROGATE.sub("\ufffd", text.replace("\x00", "\ufffd"))


def json_safe(value):
    """`value` (JSON-like) with every string made `renderable`: PostgreSQL's jsonb refuses NUL
    (and lone surrogates), which a model's sample answers can contain."""
    if isinstance(value, str):
        return renderable(value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
