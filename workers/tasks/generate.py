"""generate: the active policy answers prompts twice; each pair becomes a comparison
(webapp.catalog.generation does it)."""

from __future__ import annotations

from workers.celery_app import app
from workers.stage import Reporter, run_stage


@app.task(name="workers.tasks.generate.generate_next_comparisons")
def generate_next_comparisons(round_id: int) -> None:
    from webapp.annotation.models import Comparison
    from webapp.catalog.generation import generate_comparisons
    from webapp.rounds.models import TrainingRound

    with run_stage(round_id, TrainingRound.State.GENERATE) as stage:
        training_round = stage.round
        config = training_round.config
        reporter = Reporter(round_id, "generate")
        stored = Comparison.objects.filter(round_id=round_id).count()
        if stored:  # an earlier attempt stored them (atomically); only its end was lost
            made = stored
        else:
            made = generate_comparisons(
                training_round.project_id,
                config["round"]["next_comparisons"],
                config["generate"],
                round_id=round_id,
                seed=training_round.number,
                on_progress=lambda done, total: reporter.progress(done, total, force=True),
                pairing=config["round"]["pairing"],
            )
        reporter.progress(made, made, f"{made} new comparisons", force=True)
