"""From judgments to datasets: counting, snapshots for rounds, exports, and prompt import."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from django.conf import settings
from django.db import transaction

from training.prompts import prompt_conversation
from webapp.catalog.models import Prompt
from webapp.catalog.text import conversation_problem, strict_json, text_problem, utf8_size
from webapp.projects.models import Project


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Snapshot:
    path: Path
    sha256: str
    counts: dict[str, int]


def write_snapshot(
    project: Project,
    round_number: int,
    before: datetime,
    after: datetime | None = None,
    imported: bool = True,
) -> Snapshot:
    """Write the judgments made in (after, before] as an immutable TRL dataset file, one pair per
    A-or-B judgment (the export engine, aggregation `all`); `imported=False` leaves out imported
    judgments (Judgment.source not "": the round setting round.imported = "exclude").

    The file is written once (atomically) and made read-only; its sha256 is stored on the round
    so anyone can check that a reward model came from exactly this data.
    """
    from webapp.datasets.exporting import ExportSpec, export

    spec = ExportSpec("trl", after=after, before=before, sources=None if imported else ("",))
    directory = Path(settings.ARTIFACT_ROOT) / project.slug / f"round-{round_number:04d}"
    path = directory / "preferences.jsonl"
    if path.exists():  # a retried stage reuses the snapshot it already wrote
        from webapp.datasets.exporting import export_counts

        return Snapshot(path, sha256_file(path), _snapshot_counts(export_counts(project, spec)))
    result = export(project, spec, path)
    path.chmod(0o444)
    return Snapshot(path, sha256_file(path), _snapshot_counts(result.counts))


def _snapshot_counts(counts: dict[str, int]) -> dict[str, int]:
    return {key: counts[key] for key in ("judgments", "pairs", "tie", "both_bad", "comparisons")}


class PromptImportError(ValueError):
    """Bad input in an import file; the message names the line and field."""


def _field_error(line_number: int, field: str, problem: str) -> PromptImportError:
    return PromptImportError(f"line {line_number}, field '{field}': {problem}")


def _decode_line(line_number: int, raw: str | bytes) -> dict[str, Any]:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PromptImportError(f"line {line_number}: not valid UTF-8 (byte {exc.start + 1})") from exc
    try:
        row = strict_json(raw)
    except json.JSONDecodeError as exc:
        raise PromptImportError(f"line {line_number}: not valid JSON ({exc.msg})") from exc
    except ValueError as exc:  # NaN, Infinity
        raise PromptImportError(f"line {line_number}: not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise PromptImportError(f"line {line_number}: JSON nested too deeply") from exc
    if not isinstance(row, dict):
        raise PromptImportError(f"line {line_number}: expected a JSON object")
    return row


def _conversation(line_number: int, row: dict[str, Any], max_bytes: int) -> list[dict[str, str]]:
    """The row's prompt as a conversation: any row training.prompts reads (prefloop's own, TRL's
    prompt lists, HH-RLHF text), then checked by catalog.text.conversation_problem."""
    try:
        conversation = prompt_conversation(row, f"line {line_number}")
    except ValueError as exc:
        raise PromptImportError(str(exc)) from exc
    one_field = "prompt" if isinstance(row.get("prompt"), str) and "conversation" not in row else ""
    found = conversation_problem(conversation, max_bytes, one_field if len(conversation) == 1 else "")
    if found:
        raise _field_error(line_number, *found)
    return conversation


def _metadata_problem(value: Any) -> str | None:
    """Why a JSON value cannot be stored (PostgreSQL's jsonb refuses NUL), or None."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list):
        return next((p for p in map(_metadata_problem, value) if p), None)
    return None


def _parse_prompt_line(line_number: int, raw: str | bytes, max_bytes: int) -> dict[str, Any]:
    row = _decode_line(line_number, raw)
    conversation = _conversation(line_number, row, max_bytes)
    split = row.get("split", Prompt.Split.TRAIN)
    if split not in Prompt.Split.values:
        raise _field_error(line_number, "split", f"must be one of {', '.join(Prompt.Split.values)}")
    metadata = row.get("metadata", {})
    if not isinstance(metadata, dict):
        raise _field_error(line_number, "metadata", "must be an object")
    problem = _metadata_problem(metadata)
    size = utf8_size(json.dumps(metadata, ensure_ascii=False))
    if not problem and size > max_bytes:  # never shown, but stored with the prompt: its limit
        problem = f"{size:,} bytes as JSON, the project's limit is {max_bytes:,}"
    if problem:
        raise _field_error(line_number, "metadata", problem)
    source = str(row.get("source", ""))[:200]
    problem = text_problem(source)
    if problem:
        raise _field_error(line_number, "source", problem)
    return {"conversation": conversation, "split": split, "source": source, "metadata": metadata}


def import_prompts(project: Project, lines: Iterable[str | bytes] | IO, source: str = "") -> int:
    """Import prompts from JSON lines (text, or bytes decoded here so a bad byte names its line),
    all or nothing.

    Each line: {"prompt": "..."} or {"conversation": [{role, content}, ...]}, optional "split"
    (train/eval), "source", "metadata". Every line is validated before anything is written:
    valid Unicode without NUL, and within the project's `max_prompt_bytes`.
    """
    rows = []
    for line_number, raw in enumerate(lines, start=1):
        if raw.strip():
            row = _parse_prompt_line(line_number, raw, project.max_prompt_bytes)
            row["source"] = row["source"] or source
            rows.append(Prompt(project=project, **row))
    with transaction.atomic():
        Prompt.objects.bulk_create(rows)
    return len(rows)


GZIP_MAGIC = b"\x1f\x8b"


def _lines(handle: IO[bytes], max_bytes: int | None, what: str) -> Iterator[bytes]:
    """The lines of `handle`. A file that is not valid gzip, or (given `max_bytes`) lines past
    `max_bytes` in all, raise PromptImportError with the line: a .gz can unpack to far more than
    was uploaded, and one line is never read whole past the cap."""
    total, line_number = 0, 0
    while True:
        try:
            line = handle.readline(-1 if max_bytes is None else max_bytes - total + 1)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise PromptImportError(f"line {line_number + 1}: the file is not valid gzip ({exc})") from exc
        if not line:
            return
        line_number += 1
        total += len(line)
        if max_bytes is not None and total > max_bytes:
            raise PromptImportError(
                f"line {line_number}: the file is over {max_bytes:,} bytes{what}, this page's limit; "
                "split it, or import it with `manage.py import_prompts`"
            )
        yield line


def import_prompt_file(project: Project, handle: IO[bytes], name: str, max_bytes: int | None = None) -> int:
    """Import a JSON lines file (an upload, or one the command opened), gzip-compressed or not
    (told by its first bytes, not its name), all or nothing; at most `max_bytes` of JSON lines
    when given (the web page's cap). Bytes go to import_prompts as they are, so a bad byte names
    its line. Each prompt's source is the file's name."""
    compressed = handle.read(2) == GZIP_MAGIC
    handle.seek(0)
    lines = gzip.GzipFile(fileobj=handle, mode="rb") if compressed else handle
    source = "".join(ch for ch in name if ch.isprintable())[:200]
    return import_prompts(
        project, _lines(lines, max_bytes, " uncompressed" if compressed else ""), source=source
    )


# format name -> (training.data writer of the same rows, file suffix, what it is); the export
# engine (webapp.datasets.exporting) writes them all, streaming.
EXPORT_FORMATS: dict[str, tuple[str, str, str]] = {
    "trl": ("write_trl_conversational", ".jsonl", "TRL conversational preference format, explicit prompt"),
    "trl-standard": ("write_trl_standard", ".jsonl", "TRL standard (plain text) preference format"),
    "hh": ("write_hh", ".jsonl", "HH-RLHF text: full chosen/rejected transcripts"),
    "parquet": ("write_parquet", ".parquet", "Parquet, one row per judgment with metadata"),
    "hf": ("write_hf_dataset", "", "Hugging Face dataset directory (datasets.load_from_disk)"),
    "raw": ("", ".jsonl", "every judgment with every field, ties and both-bad included (JSON lines)"),
}


def export_filename(project: Project, fmt: str) -> str:
    suffix = EXPORT_FORMATS[fmt][1]
    return f"{project.slug}-preferences-{fmt}{suffix or '.zip'}"
