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
from webapp.annotation.models import Judgment
from webapp.catalog.models import Prompt
from webapp.catalog.text import conversation_problem, strict_json, text_problem, utf8_size
from webapp.projects.models import Project

PAIR_CHOICES = (Judgment.Choice.A, Judgment.Choice.B)


def _judgments(project: Project, before: datetime | None = None, after: datetime | None = None):
    judgments = Judgment.objects.filter(comparison__project=project)
    if before is not None:
        judgments = judgments.filter(created__lte=before)
    if after is not None:
        judgments = judgments.filter(created__gt=after)
    return judgments


def count_pairs(project: Project, after: datetime | None = None) -> int:
    """Judgments (made after `after`, when given) that make a chosen/rejected pair (ties and
    both-bad make none)."""
    return _judgments(project, after=after).filter(choice__in=PAIR_CHOICES).count()


def preference_records(
    project: Project, before: datetime | None = None, after: datetime | None = None
) -> tuple[list, dict[str, int]]:
    """Every A-or-B judgment in (after, before] as a training.data.PreferenceRecord, oldest first,
    plus counts.

    One record per judgment: with overlap > 1 a comparison judged the same way twice counts
    twice, which weights agreed pairs up; disagreeing judgments cancel in the loss.
    """
    from training.data import PreferenceRecord

    judgments = (
        _judgments(project, before, after)
        .select_related("comparison__prompt", "comparison__response_a", "comparison__response_b")
        .order_by("id")
    )
    records = []
    counts = {"judgments": 0, "pairs": 0, "tie": 0, "both_bad": 0}
    for judgment in judgments.iterator():
        counts["judgments"] += 1
        if judgment.choice not in PAIR_CHOICES:
            counts[judgment.choice] += 1
            continue
        comparison = judgment.comparison
        a, b = comparison.response_a, comparison.response_b
        chosen, rejected = (a, b) if judgment.choice == Judgment.Choice.A else (b, a)
        records.append(
            PreferenceRecord(
                prompt=comparison.prompt.conversation,
                chosen=chosen.text,
                rejected=rejected.text,
                strength=judgment.strength,
                metadata={
                    "comparison_id": comparison.pk,
                    "judgment_id": judgment.pk,
                    "annotator_id": judgment.annotator_id,
                    "prompt_id": comparison.prompt_id,
                    "reason": judgment.reason,
                },
            )
        )
        counts["pairs"] += 1
    return records, counts


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
    project: Project, round_number: int, before: datetime, after: datetime | None = None
) -> Snapshot:
    """Write the judgments made in (after, before] as an immutable TRL dataset file.

    The file is written once (training.data writes it atomically) and made read-only; its sha256 is
    stored on the round so anyone can check that a reward model came from exactly this data.
    """
    from training.data import write_trl_conversational

    records, counts = preference_records(project, before, after)
    directory = Path(settings.ARTIFACT_ROOT) / project.slug / f"round-{round_number:04d}"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "preferences.jsonl"
    if path.exists():  # a retried stage reuses the snapshot it already wrote
        return Snapshot(path, sha256_file(path), counts)
    write_trl_conversational(records, path)  # atomic: a temp file renamed into place
    path.chmod(0o444)
    return Snapshot(path, sha256_file(path), counts)


class PromptImportError(ValueError):
    """Bad input in an import file; the message names the line and field."""


def _field_error(line_number: int | str, field: str, problem: str) -> PromptImportError:
    """`line_number` is a line's number, or where the row came from in words ("item 3")."""
    where = line_number if isinstance(line_number, str) else f"line {line_number}"
    return PromptImportError(f"{where}, field '{field}': {problem}")


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


def _conversation(line_number: int | str, row: dict[str, Any], max_bytes: int) -> list[dict[str, str]]:
    """The row's prompt as a conversation: any row training.prompts reads (prefloop's own, TRL's
    prompt lists, HH-RLHF text), then checked by catalog.text.conversation_problem."""
    where = line_number if isinstance(line_number, str) else f"line {line_number}"
    try:
        conversation = prompt_conversation(row, where)
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
    return _parse_prompt_row(line_number, _decode_line(line_number, raw), max_bytes)


def _parse_prompt_row(line_number: int | str, row: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """One decoded row's Prompt fields, or PromptImportError naming `line_number` (or "item N")
    and the field: the checks every prompt import shares, whatever carried the row."""
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


def import_prompt_rows(project: Project, rows: Iterable[Any], source: str = "") -> int:
    """Import prompts given as decoded rows (the API's bulk create), all or nothing: the rows
    `import_prompts` reads from a line each, checked the same way, errors naming `item N`
    (the first row is item 1) instead of a line."""
    prompts = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise PromptImportError(f"item {number}: expected a JSON object")
        fields = _parse_prompt_row(f"item {number}", row, project.max_prompt_bytes)
        fields["source"] = fields["source"] or source
        prompts.append(Prompt(project=project, **fields))
    with transaction.atomic():
        Prompt.objects.bulk_create(prompts)
    return len(prompts)


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


# format name -> (training.data writer, file suffix, what it is)
EXPORT_FORMATS: dict[str, tuple[str, str, str]] = {
    "trl": ("write_trl_conversational", ".jsonl", "TRL conversational preference format, explicit prompt"),
    "trl-standard": ("write_trl_standard", ".jsonl", "TRL standard (plain text) preference format"),
    "hh": ("write_hh", ".jsonl", "HH-RLHF text: full chosen/rejected transcripts"),
    "parquet": ("write_parquet", ".parquet", "Parquet, one row per judgment with metadata"),
    "hf": ("write_hf_dataset", "", "Hugging Face dataset directory (datasets.load_from_disk)"),
}


def export_filename(project: Project, fmt: str) -> str:
    suffix = EXPORT_FORMATS[fmt][1]
    return f"{project.slug}-preferences-{fmt}{suffix or '.zip'}"


def export_preferences(
    project: Project, fmt: str, out: Path | str, as_archive: bool | None = None
) -> tuple[Path, dict[str, int]]:
    """Write every A-or-B judgment of the project in `fmt` to `out`.

    The `hf` format is a directory; from the web it is zipped (`as_archive`, the default when
    `out` ends in .zip). Returns the path written and the judgment counts.
    """
    import shutil

    from training import data

    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    records, counts = preference_records(project)
    writer = getattr(data, EXPORT_FORMATS[fmt][0])
    out = Path(out)
    archive = out.suffix == ".zip" if as_archive is None else as_archive
    if fmt == "hf" and archive:
        directory = out.with_suffix("")
        writer(records, directory)
        archive_path = shutil.make_archive(
            str(directory), "zip", root_dir=directory.parent, base_dir=directory.name
        )
        return Path(archive_path), counts
    return Path(writer(records, out)), counts
