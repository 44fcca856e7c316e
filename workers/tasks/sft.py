"""sft: supervised fine-tuning on the snapshot's demonstrations (training.sft), before the reward
model and the policy update, which start from its policy; recorded as skipped when there are none."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.db import transaction

from workers.celery_app import app
from workers.stage import Reporter, run_stage


@app.task(name="workers.tasks.sft.train_sft_policy")
def train_sft_policy(round_id: int) -> None:
    from training.sft import SFTArgs, read_demonstrations, train_sft
    from webapp.datasets.services import DEMONSTRATIONS, sha256_file
    from webapp.rounds.config import DEFAULTS
    from webapp.rounds.models import TrainingRound
    from webapp.rounds.services import add_metrics, report_progress

    with run_stage(round_id, TrainingRound.State.SFT) as stage:
        training_round = stage.round
        if "sft" in training_round.metrics:
            return  # an earlier attempt trained (or skipped) it and stored that; only its next stage was lost
        settings = {**DEFAULTS["sft"], **training_round.config.get("sft", {})}  # a round from before sft
        enabled = settings.pop("enabled")
        data = Path(training_round.dataset_path).parent / DEMONSTRATIONS
        skipped = (
            "sft.enabled is false"
            if not enabled
            else None
            if data.exists()
            else "the snapshot holds no demonstrations"
        )
        if skipped:
            count = training_round.dataset_counts.get("demonstrations", 0)
            add_metrics(round_id, "sft", {"skipped": skipped, "demonstrations": count})
            report_progress(round_id, "sft", 0, 0, f"skipped: {skipped}")
            return
        out_dir = data.parent / "sft-policy"
        if out_dir.exists():  # a killed attempt saved it but never recorded it: nothing uses it
            shutil.rmtree(out_dir)
        args = SFTArgs(
            policy_path=training_round.policy_in.checkpoint,
            out_dir=str(out_dir),
            metrics_path=str(data.parent / "sft-metrics.jsonl"),
            seed=training_round.number,
            **settings,
        )
        result = train_sft(
            args,
            read_demonstrations(data),
            on_log=Reporter(round_id, "sft"),
            progress=False,
            should_stop=stage.should_stop,
        )
        with transaction.atomic():  # the path the next stages start from and its metrics, or neither
            TrainingRound.objects.filter(pk=round_id).update(sft_policy_path=str(result.checkpoint))
            add_metrics(round_id, "sft", {**result.metrics, "data_sha256": sha256_file(data)})
