"""Prompts for PPO, generation and evaluation, read from whatever file a user has at hand.

The CLI takes prompts from a prefloop prompt file (`{"prompt": "..."}` or
`{"conversation": [...]}` per line), from any preference export (TRL conversational or standard,
HH-RLHF text), or from a Parquet export. Duplicate prompts are kept once, in file order, since a
preference dataset repeats a prompt for every judgment of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Conversation = list[dict[str, str]]


def _drop_open_turn(conversation: Conversation) -> Conversation:
    return (
        conversation[:-1]
        if conversation[-1]["role"] == "assistant" and not conversation[-1]["content"]
        else conversation
    )


def _conversation(row: dict[str, Any], where: str) -> Conversation:
    """The prompt conversation of one row, whatever the row's format."""
    from training.data import parse_hh

    if isinstance(row.get("conversation"), list):
        return row["conversation"]
    prompt = row.get("prompt")
    if isinstance(prompt, list):
        return prompt
    if isinstance(prompt, str) and prompt.strip():
        if prompt.startswith("\n\nHuman:"):  # HH-style prompt text, open assistant turn at the end
            return _drop_open_turn(parse_hh(prompt))
        return [{"role": "user", "content": prompt}]
    if isinstance(row.get("chosen"), str) and isinstance(row.get("rejected"), str):
        from training.data import split_hh_pair

        return split_hh_pair(row["chosen"], row["rejected"])[0]
    raise ValueError(f"{where}: no prompt found (expected a 'prompt', 'conversation' or HH 'chosen' field)")


def load_prompts(path: str | Path, limit: int | None = None) -> list[Conversation]:
    """Unique prompt conversations from a JSONL (optionally .gz) or Parquet file."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
        numbered = [(f"{path}: row {i + 1}", row) for i, row in enumerate(rows)]
    else:
        import gzip

        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            numbered = []
            for number, raw in enumerate(handle, start=1):
                if raw.strip():
                    try:
                        numbered.append((f"{path}: line {number}", json.loads(raw)))
                    except json.JSONDecodeError as exc:
                        raise ValueError(f"{path}: line {number}: not valid JSON ({exc.msg})") from exc
    seen: set[str] = set()
    prompts: list[Conversation] = []
    for where, row in numbered:
        conversation = _conversation(row, where)
        key = json.dumps(conversation, sort_keys=True)
        if key not in seen:
            seen.add(key)
            prompts.append(conversation)
        if limit is not None and len(prompts) >= limit:
            break
    if not prompts:
        raise ValueError(f"{path}: no prompts in file")
    return prompts
