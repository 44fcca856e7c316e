"""deploy: the new policy version becomes the active one, atomically."""

from __future__ import annotations

from workers.celery_app import app
from workers.stage import run_stage


@app.task(name="workers.tasks.deploy.deploy_policy")
def deploy_policy(round_id: int) -> None:
    from webapp.catalog.services import deploy
    from webapp.rounds.models import TrainingRound

    with run_stage(round_id, TrainingRound.State.DEPLOY) as stage:
        deploy(stage.round.policy_out)  # one transaction; deploying the same version twice is a no-op
