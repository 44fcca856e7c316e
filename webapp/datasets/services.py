"""From judgments to datasets: snapshots for rounds and export formats (imports: `imports`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings

from webapp.datasets.imports import import_prompt_file, import_prompts  # noqa: F401 (re-exported)
from webapp.datasets.readers import ImportFileError
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
