"""Small import files written by hand, for the import tests: JSON lines (plain or gzip), and the
counts of every table an import writes, to show that a refused file wrote nothing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterable

from webapp.annotation.models import Comparison, Judgment
from webapp.catalog.models import Prompt, Response

HH_FILE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"
)
HH_PAIRS = 2312


def hh_file() -> Path:
    """The real HH-RLHF harmless-base test split (2,312 pairs), beside the worktree or in /work/shared."""
    for candidate in (HH_FILE, Path("/work/shared/data/hh-rlhf/harmless-base-test.jsonl.gz")):
        if candidate.exists():
            return candidate
    raise AssertionError(f"the HH-RLHF test file is missing: {HH_FILE}")


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
