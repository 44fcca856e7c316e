"""Keyset pagination: a page is the rows after the last one the client saw, found through the
ordering's index, so page 1000 costs what page 1 costs and rows added meanwhile are not skipped
or repeated (an OFFSET would do both)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Sequence, TypeVar

from django.db.models import Model, Q, QuerySet

from webapp.api.errors import ApiError

M = TypeVar("M", bound=Model)

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def _encode(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeError) as exc:
        raise ApiError(
            422, "field 'cursor': not a cursor this API gave (use the previous page's 'next')"
        ) from exc
    if (
        not isinstance(values, list)
        or len(values) != size
        or not all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in values)
    ):
        raise ApiError(422, "field 'cursor': not a cursor this API gave (use the previous page's 'next')")
    return values


def _after(keys: Sequence[str], values: list[Any]) -> Q:
    """Rows strictly after `values` in the order of `keys` ("-number": descending): the first
    key past its value, or equal to it and the next key past its value, and so on."""
    condition: Q | None = None
    for i, key in enumerate(keys):
        equal = {earlier.lstrip("-"): values[j] for j, earlier in enumerate(keys[:i])}
        step = {f"{key.lstrip('-')}__{'lt' if key.startswith('-') else 'gt'}": values[i]}
        term = Q(**equal, **step)
        condition = term if condition is None else condition | term
    assert condition is not None
    return condition


def page(
    rows: QuerySet[M], keys: Sequence[str], cursor: str | None, limit: int
) -> tuple[list[M], str | None]:
    """Up to `limit` rows of `rows` ordered by `keys` (the last one unique, e.g. "id"), starting
    after `cursor`; and the cursor of the next page, None on the last one."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(422, f"field 'limit': must be from 1 to {MAX_LIMIT}, not {limit}")
    rows = rows.order_by(*keys)
    if cursor:
        rows = rows.filter(_after(keys, _decode(cursor, len(keys))))
    items = list(rows[: limit + 1])
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    last = items[-1]
    return items, _encode([_value(last, key.lstrip("-")) for key in keys])


def _value(row: Model, path: str) -> Any:
    value: Any = row
    for name in path.split("__"):
        value = getattr(value, name)
    return value
