"""What text may enter prefloop, and how stored text is made safe to render.

Text arrives from imports, forms and models. PostgreSQL refuses NUL, and a lone UTF-16
surrogate (valid in a Python str, invalid Unicode) makes the HTML sanitiser raise: both are
rejected on the way in, with the field named, and replaced on the way out, so a page never
fails on text that got stored before these checks existed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from training.prompts import conversation_problem as shape_problem

_SURROGATE = re.compile("[\ud800-\udfff]")


def strict_json(text: str) -> Any:
    """`json.loads` that refuses NaN and Infinity (ValueError): Python reads them, but they are
    not JSON, and neither jsonb nor the exports' readers take them."""
    return json.loads(text, parse_constant=_no_constant)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def utf8_size(text: str) -> int:
    """Bytes of `text` in UTF-8; a lone surrogate counts as the 3 bytes it would take."""
    return len(text.encode("utf-8", "surrogatepass"))


def text_problem(text: str, max_bytes: int | None = None) -> str | None:
    """Why `text` cannot be stored (in words, to follow "field 'x': "), or None.

    `max_bytes` is the project's limit for this kind of text (Project.max_*_bytes); None checks
    only that the text is storable (no NUL, valid Unicode).
    """
    if "\x00" in text:
        return "contains a NUL character"
    if _SURROGATE.search(text):
        return "contains a lone UTF-16 surrogate (not valid Unicode)"
    if max_bytes is not None:
        size = utf8_size(text)
        if size > max_bytes:
            return f"{size:,} bytes, the project's limit is {max_bytes:,}"
    return None


def conversation_problem(conversation: Any, max_bytes: int, one_field: str = "") -> tuple[str, str] | None:
    """(field, why) for the first thing wrong with a prompt's conversation, or None.

    Its shape as training.prompts checks it, then storable content in each message, and all
    their text together within the project's `max_prompt_bytes` (the annotate page shows every
    message). A one-message conversation that came as a plain prompt names its field
    `one_field` (an import's "prompt").
    """
    found = shape_problem(conversation)
    if found:
        return found
    fields = [one_field] if one_field else [f"conversation[{i}].content" for i in range(len(conversation))]
    for field, message in zip(fields, conversation):
        problem = text_problem(message["content"])
        if problem:
            return field, problem
    problem = text_problem("".join(m["content"] for m in conversation), max_bytes)
    if problem:  # one message: its field; several: their text together is what is too long
        return (fields[0] if len(fields) == 1 else "conversation"), problem
    return None


def clip_to_bytes(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` in UTF-8, at a character boundary, with a visible marker
    saying so; `text` itself when it fits."""
    size = utf8_size(text)
    if size <= max_bytes:
        return text
    marker = f"\n\n[clipped by prefloop: {size:,} bytes, the project's limit is {max_bytes:,}]"
    room = max(0, max_bytes - utf8_size(marker))
    # decode(errors="ignore") drops the partial character a byte cut may leave at the end.
    kept = text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
    return (kept + marker).encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


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
