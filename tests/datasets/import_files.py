"""Small import files written by hand, for the import tests: JSON lines (plain or gzip), and the
counts of every table an import writes, to show that a refused file wrote nothing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterable

from webapp.annotation.models import Comparison, Judgment
from webapp.catalog.models import Prompt, Response


def jsonl(rows: Iterable[Any]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def write(path: Path, rows: Iterable[Any], compressed: bool = False) -> Path:
    data = jsonl(rows)
    path.write_bytes(gzip.compress(data) if compressed else data)
    return path


def table_counts() -> tuple[int, int, int, int]:
    """Prompts, responses, comparisons, judgments: what any import writes."""
    return (
        Prompt.objects.count(),
        Response.objects.count(),
        Comparison.objects.count(),
        Judgment.objects.count(),
    )


def turns(*texts: str) -> list[dict[str, str]]:
    """A conversation alternating user and assistant, starting with the user."""
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]
