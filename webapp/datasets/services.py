"""From judgments to datasets: counting, snapshots for rounds and exports (imports: `imports`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings

from webapp.annotation.models import Judgment
from webapp.datasets.imports import import_prompt_file, import_prompts  # noqa: F401 (re-exported)
from webapp.datasets.readers import ImportFileError
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


# Prompt import lives in `imports` (and file reading in `readers`); these names stay here for the
# views, commands and tests that import them from this module. PromptImportError is ImportFileError.
PromptImportError = ImportFileError


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
