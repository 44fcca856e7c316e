"""What every TRL trainer run here shares (reward model, DPO, SFT): a scratch directory, the
metrics file, and the TrainingArguments that make a run seeded, quiet and checkpoint-free.

Each trainer keeps its own config fields; these are the ones that must not drift between them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch


@dataclass
class TrainerRun:
    work_dir: Path  # the Trainer's output_dir: nothing is saved there (save_strategy "no")
    metrics_file: IO[str] | None  # one JSON line per log (the relay's), then {"final": ...}

    def write_final(self, metrics: dict[str, Any]) -> None:
        if self.metrics_file is not None:
            self.metrics_file.write(json.dumps({"final": metrics}) + "\n")


@contextmanager
def trainer_run(metrics_path: str | None, name: str) -> Iterator[TrainerRun]:
    """The metrics file (replaced, never appended: a rerun starts it again) and a scratch
    directory, both closed or removed however the run ends."""
    metrics_file = None
    if metrics_path:
        Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
        metrics_file = open(metrics_path, "w", encoding="utf-8")
    work_dir = Path(tempfile.mkdtemp(prefix=f"prefloop-{name}-"))
    try:
        yield TrainerRun(work_dir, metrics_file)
    finally:
        if metrics_file is not None:
            metrics_file.close()
        shutil.rmtree(work_dir, ignore_errors=True)


def run_settings(seed: int, progress: bool, device_type: str, dtype: torch.dtype | None) -> dict[str, Any]:
    """TrainingArguments fields every trainer here sets alike: seeded data order, no checkpoints,
    no evaluation loop or reporting, tqdm only with `progress`, precision from `dtype`, a linear
    schedule without warm-up, data loaded in the training process."""
    return {
        "seed": seed,
        "data_seed": seed,
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": "none",
        "disable_tqdm": not progress,
        "use_cpu": device_type == "cpu",
        "bf16": dtype == torch.bfloat16,
        "fp16": dtype == torch.float16,
        "dataloader_num_workers": 0,
        "warmup_steps": 0,
        "lr_scheduler_type": "linear",
    }
