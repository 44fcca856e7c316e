"""The API's errors: always JSON `{"detail": "..."}`, the message naming the field or item."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A refusal with its HTTP status and message (`detail`), and optional extra keys."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.extra = status, detail, extra


def describe_location(loc: list[Any] | tuple[Any, ...]) -> str:
    """pydantic's error location as the API says it: `item 3, field 'split'` for
    ("body", "payload", "prompts", 2, "split"); list indices count from 1, like lines."""
    parts = [part for part in loc if part not in ("body", "payload", "query", "path")]
    words: list[str] = []
    field: list[str] = []
    for part in parts:
        if isinstance(part, int):
            if field:
                words.append(f"field '{'.'.join(field)}'")
                field = []
            words.append(f"item {part + 1}")
        else:
            field.append(str(part))
    if field:
        words.append(f"field '{'.'.join(field)}'")
    return ", ".join(words) or "the request"
