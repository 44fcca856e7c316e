"""From judgments to datasets: snapshots for rounds, the export formats' registry (the export
itself: `exporting`; imports: `imports`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings

from webapp.datasets.imports import import_prompt_file, import_prompts  # noqa: F401 (re-exported)
from webapp.datasets.readers import ImportFileError  # noqa: F401 (re-exported)
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
    so anyone can check that a reward model came from exactly this data. The demonstrations
    written in the same window go beside it as `demonstrations.jsonl` (the SFT stage's data),
    first, so that a whole preferences.jsonl means a whole snapshot.
    """
    from webapp.datasets.exporting import ExportSpec, export

    spec = ExportSpec("trl", after=after, before=before, sources=None if imported else ("",))
    directory = Path(settings.ARTIFACT_ROOT) / project.slug / f"round-{round_number:04d}"
    path = directory / "preferences.jsonl"
    demonstrations = write_demonstrations(project, directory / DEMONSTRATIONS, before, after)
    if path.exists():  # a retried stage reuses the snapshot it already wrote
        from webapp.datasets.exporting import export_counts

        counts = export_counts(project, spec)
    else:
        counts = export(project, spec, path).counts
        path.chmod(0o444)
    return Snapshot(path, sha256_file(path), _snapshot_counts(counts, demonstrations))


DEMONSTRATIONS = "demonstrations.jsonl"  # beside a snapshot's preferences.jsonl, when it has any


def write_demonstrations(project: Project, path: Path, before: datetime, after: datetime | None) -> int:
    """Write the demonstrations created in (after, before] as TRL `messages` rows to `path`, once
    (atomically, read-only); none: no file. Returns how many rows the file holds."""
    import json
    import os

    from webapp.demonstrations.services import demonstration_rows

    if path.exists():  # a retried snapshot: the file is whole (renamed into place)
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    written = 0
    with open(partial, "w", encoding="utf-8") as handle:
        for row in demonstration_rows(project, after=after, before=before):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            written += 1
        handle.flush()
        os.fsync(handle.fileno())
    if not written:
        partial.unlink()
        return 0
    partial.chmod(0o444)
    partial.rename(path)
    return written


def _snapshot_counts(counts: dict[str, int], demonstrations: int = 0) -> dict[str, int]:
    kept = {key: counts[key] for key in ("judgments", "pairs", "tie", "both_bad", "comparisons")}
    return {**kept, "demonstrations": demonstrations}


# Prompt import lives in `imports` (and file reading in `readers`); these names stay here for the
# views, commands and tests that import them from this module. PromptImportError is ImportFileError.
PromptImportError = ImportFileError

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
