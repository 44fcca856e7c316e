"""Preference records and the file formats they travel in.

A `PreferenceRecord` is one judged pair: a prompt conversation, the chosen and the rejected
assistant reply, the judged strength and free-form metadata. Writers turn a list of records into
the formats researchers use; readers turn those files (and the public HH-RLHF dumps) back into
records.

Formats (each writer is `(records, out) -> Path`, creates parent directories and writes
atomically: a temp file next to the target, then a rename):

* `write_trl_conversational` (the `trl` export, and the round snapshot): JSON lines in TRL's
  conversational preference format with an explicit prompt::

      {"prompt": [{"role": "user", "content": "..."}, ...],
       "chosen": [{"role": "assistant", "content": "..."}],
       "rejected": [{"role": "assistant", "content": "..."}],
       "margin": 0.5, "strength": 2, "metadata": {...}}

  `datasets.load_dataset("json", data_files=path)` loads it unchanged and TRL's RewardTrainer
  applies the chat template to prompt + chosen / prompt + rejected. `metadata` is present only
  when the record has any (an empty JSON object would become an Arrow struct with no fields,
  which `datasets` cannot store).
* `write_trl_standard`: TRL's standard (plain text) format, chat-template free. The prompt is
  rendered HH-style, `"\\n\\nHuman: ...\\n\\nAssistant:"`, and chosen/rejected are the replies
  with one leading space (`" " + reply`), so `prompt + chosen` is exactly an HH transcript.
* `write_hh`: HH-RLHF text, `{"chosen": transcript, "rejected": transcript}` where a transcript
  is `"\\n\\nHuman: ...\\n\\nAssistant: ..."` ending in the reply (plus strength/margin/metadata).
* `write_parquet`: one row per record: prompt (list of role/content structs), chosen, rejected,
  strength, margin, metadata (a JSON string: metadata values differ in type between sources).
* `write_hf_dataset`: the conversational rows as a `datasets` directory (`load_from_disk`), with
  metadata as a JSON string for the same reason.

System messages are rendered as `"\\n\\nSystem: ..."` turns in the HH-style text formats, and
parsed back.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

Conversation = list[dict[str, str]]

# strength: 1 = slightly better, 2 = clearly better, 3 = much better
STRENGTH_MARGINS: dict[int, float] = {1: 0.0, 2: 0.5, 3: 1.0}
DEFAULT_STRENGTH = 2

HH_ROLES = {"Human": "user", "Assistant": "assistant", "System": "system"}
HH_NAMES = {role: name for name, role in HH_ROLES.items()}
ASSISTANT_MARK = "\n\nAssistant:"
_TURN = re.compile(r"\n\n(Human|Assistant|System):")


@dataclass
class PreferenceRecord:
    """One judged pair: `chosen` was preferred to `rejected` as the answer to `prompt`."""

    prompt: Conversation  # [{"role": "user"|"assistant"|"system", "content": "..."}, ...]
    chosen: str
    rejected: str
    strength: int = DEFAULT_STRENGTH  # 1 slightly, 2 clearly, 3 much better
    metadata: dict = field(default_factory=dict)


def margin_for_strength(strength: int) -> float:
    """The reward margin the loss asks for, by judged strength.

    RewardTrainer's loss with a margin column is `-logsigmoid(r_chosen - r_rejected - margin)`:
    the chosen reward must beat the rejected one by at least about `margin` before the loss
    flattens out. Following Llama 2's "small margin" finding (large margins hurt on pairs that
    are hard to tell apart), the mapping is small and starts at zero:

    * 1, slightly better -> 0.0 (only the order matters),
    * 2, clearly better  -> 0.5,
    * 3, much better     -> 1.0.

    Unknown strengths raise ValueError.
    """
    try:
        return STRENGTH_MARGINS[int(strength)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"strength must be one of {sorted(STRENGTH_MARGINS)}, got {strength!r}") from None


# ---------------------------------------------------------------------------------------------
# Rows


def to_trl_rows(records: Iterable[PreferenceRecord], metadata_as_json: bool = False) -> list[dict[str, Any]]:
    """Records as TRL conversational preference rows (explicit prompt), with margin and strength.

    `metadata_as_json` stores metadata as a JSON string (for Arrow-typed outputs) instead of an
    object; an empty metadata dict is left out of the row.
    """
    rows = []
    for record in records:
        row: dict[str, Any] = {
            "prompt": [{"role": m["role"], "content": m["content"]} for m in record.prompt],
            "chosen": [{"role": "assistant", "content": record.chosen}],
            "rejected": [{"role": "assistant", "content": record.rejected}],
            "margin": margin_for_strength(record.strength),
            "strength": int(record.strength),
        }
        if metadata_as_json:
            row["metadata"] = json.dumps(record.metadata, sort_keys=True, default=str)
        elif record.metadata:
            row["metadata"] = record.metadata
        rows.append(row)
    return rows


def render_hh(conversation: Conversation) -> str:
    """A conversation as HH-RLHF text: `"\\n\\nHuman: ...\\n\\nAssistant: ..."`."""
    parts = []
    for message in conversation:
        name = HH_NAMES.get(message["role"])
        if name is None:
            raise ValueError(f"role {message['role']!r} has no HH-RLHF rendering")
        parts.append(f"\n\n{name}: {message['content']}")
    return "".join(parts)


def hh_prompt(conversation: Conversation) -> str:
    """The HH prompt text: the conversation, then the open assistant turn `"\\n\\nAssistant:"`."""
    return render_hh(conversation) + ASSISTANT_MARK


def _strip_one_space(text: str) -> str:
    return text[1:] if text.startswith(" ") else text


def parse_hh(text: str) -> Conversation:
    """Parse `"\\n\\nHuman: a\\n\\nAssistant: b..."` into messages (one space after ':' dropped).

    Raises ValueError when the text does not start with a turn marker.
    """
    pieces = _TURN.split(text)
    if pieces[0].strip() or len(pieces) < 3:
        raise ValueError("expected text starting with '\\n\\nHuman:'")
    return [
        {"role": HH_ROLES[name], "content": _strip_one_space(content)}
        for name, content in zip(pieces[1::2], pieces[2::2])
    ]


def split_hh_pair(chosen: str, rejected: str) -> tuple[Conversation, str, str]:
    """Split two HH transcripts into (prompt conversation, chosen reply, rejected reply).

    The split is at the last `"\\n\\nAssistant:"` that lies wholly inside the common prefix of
    the two transcripts: everything before it is the shared prompt, everything after it the two
    replies (one leading space dropped). Replies keep any later turns verbatim in the rare rows
    where the transcripts differ before their last assistant turn.
    """
    common = len(os.path.commonprefix([chosen, rejected]))
    cut = chosen.rfind(ASSISTANT_MARK, 0, common)  # the marker must lie wholly inside the shared prefix
    if cut < 0:
        raise ValueError("the transcripts share no '\\n\\nAssistant:' turn")
    prompt = parse_hh(chosen[:cut])
    if prompt[-1]["role"] != "user":
        raise ValueError("the shared prompt must end with a Human turn")
    start = cut + len(ASSISTANT_MARK)
    return prompt, _strip_one_space(chosen[start:]), _strip_one_space(rejected[start:])


# ---------------------------------------------------------------------------------------------
# Writers


def _atomic_path(out: Path | str) -> tuple[Path, Path]:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    return out, Path(tmp)


def _write_jsonl(rows: Iterable[dict[str, Any]], out: Path | str) -> Path:
    out, tmp = _atomic_path(out)
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def _extras(record: PreferenceRecord) -> dict[str, Any]:
    extras: dict[str, Any] = {
        "margin": margin_for_strength(record.strength),
        "strength": int(record.strength),
    }
    if record.metadata:
        extras["metadata"] = record.metadata
    return extras


def write_trl_conversational(records: list[PreferenceRecord], out: Path | str) -> Path:
    """TRL conversational preference JSONL (explicit prompt); see the module docstring."""
    return _write_jsonl(to_trl_rows(records), out)


def write_trl_standard(records: list[PreferenceRecord], out: Path | str) -> Path:
    """TRL standard (plain text) JSONL: HH-style prompt text, `" " + reply` as chosen/rejected."""
    rows = (
        {"prompt": hh_prompt(r.prompt), "chosen": " " + r.chosen, "rejected": " " + r.rejected, **_extras(r)}
        for r in records
    )
    return _write_jsonl(rows, out)


def write_hh(records: list[PreferenceRecord], out: Path | str) -> Path:
    """HH-RLHF JSONL: full chosen/rejected transcripts, plus strength, margin and metadata."""
    rows = (
        {
            "chosen": hh_prompt(r.prompt) + " " + r.chosen,
            "rejected": hh_prompt(r.prompt) + " " + r.rejected,
            **_extras(r),
        }
        for r in records
    )
    return _write_jsonl(rows, out)


def write_parquet(records: list[PreferenceRecord], out: Path | str) -> Path:
    """Parquet: prompt (list of {role, content}), chosen, rejected, strength, margin, metadata (JSON)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    schema = pa.schema(
        [
            ("prompt", pa.list_(message)),
            ("chosen", pa.string()),
            ("rejected", pa.string()),
            ("strength", pa.int64()),
            ("margin", pa.float64()),
            ("metadata", pa.string()),
        ]
    )
    table = pa.Table.from_pylist(
        [
            {
                "prompt": [{"role": m["role"], "content": m["content"]} for m in r.prompt],
                "chosen": r.chosen,
                "rejected": r.rejected,
                "strength": int(r.strength),
                "margin": margin_for_strength(r.strength),
                "metadata": json.dumps(r.metadata, sort_keys=True, default=str),
            }
            for r in records
        ],
        schema=schema,
    )
    out, tmp = _atomic_path(out)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def write_hf_dataset(records: list[PreferenceRecord], out: Path | str) -> Path:
    """A `datasets` directory of the conversational rows (metadata as a JSON string)."""
    import shutil

    from datasets import Dataset

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        Dataset.from_list(to_trl_rows(records, metadata_as_json=True)).save_to_disk(str(tmp))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


# ---------------------------------------------------------------------------------------------
# Readers


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with _open_text(path) as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path.name} line {line_number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise ValueError(f"{path.name} line {line_number}: expected a JSON object")
            yield line_number, row


def _table_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.is_dir():
        from datasets import load_from_disk

        rows: Iterable[dict[str, Any]] = load_from_disk(str(path))
    else:
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    for index, row in enumerate(rows, start=1):
        yield index, dict(row)


def _is_parquet(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"PAR1"


def _messages(value: Any, where: str) -> Conversation:
    if not isinstance(value, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in value
    ):
        raise ValueError(f"{where}: expected a list of {{role, content}} messages")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _reply(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    messages = _messages(value, where)
    if not messages or messages[-1]["role"] != "assistant":
        raise ValueError(f"{where}: expected the last message to be an assistant reply")
    return messages[-1]["content"]


def _need_str(row: dict[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{where} field '{key}': expected a string")
    return value


def _split_hh_row(row: dict[str, Any], where: str) -> tuple[Conversation, str, str]:
    chosen, rejected = _need_str(row, "chosen", where), _need_str(row, "rejected", where)
    try:
        return split_hh_pair(chosen, rejected)
    except ValueError as exc:
        raise ValueError(f"{where} field 'chosen'/'rejected': {exc}") from None


def record_from_row(row: dict[str, Any], where: str = "row") -> PreferenceRecord:
    """One row of any supported format as a record; ValueError names `where` and the field.

    Detected per row: conversational (prompt is a message list, or implicit prompt: chosen is
    the whole conversation), standard (prompt is text, HH-style or plain), HH (no prompt, two
    transcripts).
    """
    for key in ("chosen", "rejected"):
        if key not in row:
            raise ValueError(f"{where} field '{key}': missing")
    prompt_value = row.get("prompt")
    if isinstance(prompt_value, list):  # conversational, explicit prompt
        prompt = _messages(prompt_value, f"{where} field 'prompt'")
        chosen = _reply(row["chosen"], f"{where} field 'chosen'")
        rejected = _reply(row["rejected"], f"{where} field 'rejected'")
    elif isinstance(prompt_value, str):  # standard
        chosen = _strip_one_space(_need_str(row, "chosen", where))
        rejected = _strip_one_space(_need_str(row, "rejected", where))
        if _TURN.match(prompt_value):
            text = (
                prompt_value[: -len(ASSISTANT_MARK)]
                if prompt_value.endswith(ASSISTANT_MARK)
                else prompt_value
            )
            try:
                prompt = parse_hh(text)
            except ValueError as exc:
                raise ValueError(f"{where} field 'prompt': {exc}") from None
        else:
            prompt = [{"role": "user", "content": prompt_value}]
    elif prompt_value is None and isinstance(row["chosen"], list):  # conversational, implicit prompt
        full_chosen = _messages(row["chosen"], f"{where} field 'chosen'")
        full_rejected = _messages(row["rejected"], f"{where} field 'rejected'")
        prompt = full_chosen[:-1]
        if prompt != full_rejected[:-1] or not prompt:
            raise ValueError(
                f"{where} field 'rejected': chosen and rejected must share every turn but the last"
            )
        chosen = _reply(full_chosen, f"{where} field 'chosen'")
        rejected = _reply(full_rejected, f"{where} field 'rejected'")
    elif prompt_value is None:  # HH transcripts
        prompt, chosen, rejected = _split_hh_row(row, where)
    else:
        raise ValueError(f"{where} field 'prompt': expected a message list or a string")
    if not prompt:
        raise ValueError(f"{where} field 'prompt': empty conversation")
    strength = row.get("strength")
    strength = DEFAULT_STRENGTH if strength is None else strength
    try:
        margin_for_strength(strength)
    except ValueError as exc:
        raise ValueError(f"{where} field 'strength': {exc}") from None
    metadata = row.get("metadata") or {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError:
            raise ValueError(f"{where} field 'metadata': not valid JSON") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{where} field 'metadata': expected an object")
    return PreferenceRecord(
        prompt=prompt, chosen=chosen, rejected=rejected, strength=int(strength), metadata=metadata
    )


def read_preferences(path: Path | str, limit: int | None = None) -> list[PreferenceRecord]:
    """Read preference records from any format the writers produce (or HH-RLHF).

    JSONL (optionally .gz) rows are detected one by one (see `record_from_row`); a Parquet file
    (recognised by its magic bytes, whatever its name) and a `datasets` directory are read too.
    Bad input raises ValueError naming the line (row, for tables) and the field.
    """
    path = Path(path)
    if path.is_dir() or _is_parquet(path):
        rows, unit = _table_rows(path), "row"
    else:
        rows, unit = _jsonl_rows(path), "line"
    records = []
    for number, row in rows:
        if limit is not None and len(records) >= limit:
            break
        records.append(record_from_row(row, f"{path.name} {unit} {number}"))
    return records


def read_hh(path: Path | str, limit: int | None = None) -> list[PreferenceRecord]:
    """Read HH-RLHF JSONL (or .jsonl.gz): each row's two transcripts split at their shared prompt.

    Records get the default strength (the HH data has none) and `metadata={"source": file name,
    "line": n}`. Bad input raises ValueError naming the line and field.
    """
    path = Path(path)
    records = []
    for line_number, row in _jsonl_rows(path):
        if limit is not None and len(records) >= limit:
            break
        prompt, chosen, rejected = _split_hh_row(row, f"{path.name} line {line_number}")
        records.append(
            PreferenceRecord(prompt, chosen, rejected, metadata={"source": path.name, "line": line_number})
        )
    return records
