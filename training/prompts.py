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


ROLES = ("system", "user", "assistant")


def conversation_problem(conversation: Any, field: str = "conversation") -> tuple[str, str] | None:
    """(field, why) for the first thing wrong with a prompt conversation's shape, or None: a
    non-empty list of {"role", "content": str} messages that ends with the user's turn."""
    if not isinstance(conversation, list) or not conversation:
        return field, "must be a non-empty list of messages"
    for index, message in enumerate(conversation):
        if (
            not isinstance(message, dict)
            or message.get("role") not in ROLES
            or not isinstance(message.get("content"), str)
        ):
            return f"{field}[{index}]", 'must be {"role": "system"|"user"|"assistant", "content": "..."}'
    if conversation[-1]["role"] != "user":
        return field, "must end with a user message"
    return None


def prompt_conversation(row: dict[str, Any], where: str) -> Conversation:
    """The prompt conversation of one row, whatever the row's format, its shape checked. The one
    reader of prompt rows: the web's prompt import (which adds its text and size checks) and the
    CLI both use it; `where` ("line 3") starts every error message."""
    from training.data import parse_hh

    if "conversation" in row:
        conversation, field = row["conversation"], "conversation"
    elif isinstance(row.get("prompt"), list):
        conversation, field = row["prompt"], "prompt"
    elif "prompt" in row:
        prompt = row["prompt"]
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"{where}, field 'prompt': must be a non-empty string")
        if prompt.startswith("\n\nHuman:"):  # HH-style prompt text, open assistant turn at the end
            conversation, field = _drop_open_turn(parse_hh(prompt)), "prompt"
        else:
            conversation, field = [{"role": "user", "content": prompt}], "prompt"
    elif isinstance(row.get("chosen"), str) and isinstance(row.get("rejected"), str):
        from training.data import split_hh_pair

        conversation, field = split_hh_pair(row["chosen"], row["rejected"])[0], "chosen"
    else:
        raise ValueError(
            f"{where}: no prompt found (expected a 'prompt', 'conversation' or HH 'chosen' field)"
        )
    found = conversation_problem(conversation, field)
    if found:
        raise ValueError(f"{where}, field '{found[0]}': {found[1]}")
    return conversation


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
        conversation = prompt_conversation(row, where)
        key = json.dumps(conversation, sort_keys=True)
        if key not in seen:
            seen.add(key)
            prompts.append(conversation)
        if limit is not None and len(prompts) >= limit:
            break
    if not prompts:
        raise ValueError(f"{path}: no prompts in file")
    return prompts
