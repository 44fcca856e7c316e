"""The dataset card (`README.md`, Hugging Face card format) written beside every export: YAML
front matter the Hub reads (licence, task, size, which file to load), then counts, format,
aggregation, filters, agreement and how to load it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from webapp.projects.models import Project

# How each format is loaded; {name} is the file (or directory) name.
LOADING = {
    "trl": 'load_dataset("json", data_files="{name}", split="train")',
    "trl-standard": 'load_dataset("json", data_files="{name}", split="train")',
    "hh": 'load_dataset("json", data_files="{name}", split="train")',
    "raw": 'load_dataset("json", data_files="{name}", split="train")',
    "parquet": 'load_dataset("parquet", data_files="{name}", split="train")',
    "hf": 'load_from_disk("{name}")',
}
AGGREGATION_WORDS = {
    "all": "one pair per judgment that prefers A or B (a comparison judged by several annotators "
    "appears once per agreeing judgment; disagreeing ones cancel in the loss)",
    "majority": "one pair per comparison whose A or B votes are more than half of its votes "
    "(ties and both-bad votes count against); strength is the winning votes' mean, rounded",
    "unanimous": "one pair per comparison whose every judgment prefers the same response; "
    "strength is those judgments' mean, rounded",
}
SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]
SIZES += [(10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]


def size_category(rows: int) -> str:
    return next((name for limit, name in SIZES if rows < limit), "n>100M")


def _data_files(path: Path) -> str | None:
    """What the Hub's `configs` should load, relative to the card; None for a zip (unpack first)."""
    if path.suffix == ".zip":
        return None
    if path.is_dir():
        return f"{path.name}/*.arrow"
    return path.name


def _filters(spec: Any) -> list[str]:
    lines = []
    if spec.rounds is not None:
        lines.append(
            "rounds: "
            + ", ".join("no round (the first comparisons)" if n == 0 else str(n) for n in spec.rounds)
        )
    if spec.after is not None:
        lines.append(f"judged after {spec.after.isoformat()}")
    if spec.before is not None:
        lines.append(f"judged at or before {spec.before.isoformat()}")
    if spec.annotators is not None:
        lines.append(
            f"annotators: {len(spec.annotators)} chosen by name (named here by pseudonym only in raw)"
        )
    if spec.sources is not None:
        lines.append("sources: " + ", ".join(f"`{s}`" if s else "judged in prefloop" for s in spec.sources))
    return lines or ["none: every judgment of the project"]


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def card_text(
    project: Project, spec: Any, path: Path, counts: dict[str, int], agreed: dict[str, Any] | None = None
) -> str:
    from huggingface_hub import DatasetCard, DatasetCardData

    from webapp.annotation.services import agreement
    from webapp.datasets.services import EXPORT_FORMATS

    data_files = _data_files(path)
    configs = (
        [{"config_name": "default", "data_files": [{"split": "train", "path": data_files}]}]
        if data_files
        else None
    )
    meta = DatasetCardData(
        license=project.license or "other",
        task_categories=["text-generation"],
        tags=["prefloop", "preference", "rlhf", "human-feedback"],
        size_categories=[size_category(counts.get("rows", 0))],
        pretty_name=f"{project.name} preferences",
        configs=configs,
    )
    agreed = agreement(project) if agreed is None else agreed
    count_rows = "\n".join(f"| {key} | {value:,} |" for key, value in counts.items())
    filters = "\n".join(f"- {line}" for line in _filters(spec))
    load = LOADING[spec.fmt].format(name=path.stem if path.suffix == ".zip" else path.name)
    what = "load_from_disk" if spec.fmt == "hf" else "load_dataset"
    unzip = (
        f"Unzip `{path.name}` first; it holds the directory `{path.stem}`.\n\n"
        if path.suffix == ".zip"
        else ""
    )
    body = f"""
# {project.name}: preference data

Exported from prefloop project `{project.slug}`: human judgments of two responses to the same
prompt.

## Counts

| | |
|---|---|
{count_rows}

Ties and both-bad judgments make no preference pair: they are left out of every pairwise format
and kept in `raw`.

## Format

`{spec.fmt}`: {EXPORT_FORMATS[spec.fmt][2]}.

## Aggregation

`{spec.aggregation}`: {AGGREGATION_WORDS[spec.aggregation] if spec.fmt != "raw" else "none (raw has one row per judgment)"}.

## Filters

{filters}

## Agreement

Over the project's {agreed["comparisons"]:,} comparisons with two or more judgments (all of the
project's judgments, whatever the filters): Krippendorff's alpha {_number(agreed["alpha_nominal"])}
(nominal, over the four choices), {_number(agreed["alpha_signed"])} (interval, over signed
strength); share of agreeing pairs of judgments {_number(agreed["pairwise"])}.

## Loading

{unzip}```python
from datasets import {what}

dataset = {load}
```

License: {project.license or "other (not set in the project's settings)"}.
"""
    return str(DatasetCard(f"---\n{meta.to_yaml()}\n---\n{body}"))


def card_path(path: Path) -> Path:
    """Where the card of the export at `path` goes: `<name>.README.md` beside it (prefs.jsonl ->
    prefs.README.md). Never a bare README.md: an export written into a repository's folder would
    overwrite the repository's own README. `--push-to-hub` uploads it as the repo's README.md."""
    stem = path.name[: -len(path.suffix)] if path.suffix and not path.is_dir() else path.name
    return path.parent / f"{stem}.README.md"


def write_card(
    project: Project, spec: Any, path: Path, counts: dict[str, int], agreed: dict[str, Any] | None = None
) -> Path:
    """The card beside `path` (atomically; `card_path`), and its path. `agreed`: the project's
    annotation.services.agreement, when the caller has it."""
    card = card_path(Path(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{card.name}.", suffix=".tmp", dir=card.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(card_text(project, spec, Path(path), counts, agreed))
    os.replace(tmp, card)
    return card
