"""snapshot: the round's judgments become an immutable dataset file with its sha256."""

from __future__ import annotations

from workers.celery_app import app
from workers.stage import run_stage


@app.task(name="workers.tasks.snapshot.snapshot_round")
def snapshot_round(round_id: int) -> None:
    from webapp.datasets.services import write_snapshot
    from webapp.rounds.models import TrainingRound
    from webapp.rounds.services import judgments_since

    with run_stage(round_id, TrainingRound.State.SNAPSHOT) as stage:
        training_round = stage.round
        since = judgments_since(training_round.project, training_round.config)
        snap = write_snapshot(
            training_round.project,
            training_round.number,
            before=training_round.created,
            after=since.created if since else None,
            imported=training_round.config.get("round", {}).get("imported", "include") == "include",
        )
        TrainingRound.objects.filter(pk=round_id).update(
            dataset_path=str(snap.path), dataset_sha256=snap.sha256, dataset_counts=snap.counts
        )
