"""Starting rounds and recording what their stages report."""
from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from webapp.datasets.services import count_pairs
from webapp.projects.models import Project
from webapp.rounds import config as round_config
from webapp.rounds.models import RoundEvent, TrainingRound
from webapp.rounds.state_machine import TERMINAL


class RoundError(Exception):
    """A round cannot start; the message says why, in words for the person who pressed start."""


def start_round(project: Project, user=None, overrides: dict[str, Any] | None = None) -> TrainingRound:
    """Create round N+1 and queue its pipeline once the transaction commits."""
    try:
        config = round_config.merge(project.training_config, overrides)
    except round_config.ConfigError as exc:
        raise RoundError(str(exc)) from exc
    with transaction.atomic():
        # Lock the project row: two presses of the button must not start two rounds.
        project = Project.objects.select_for_update().get(pk=project.pk)
        active = project.rounds.exclude(state__in=TERMINAL).first()
        if active is not None:
            raise RoundError(f"round {active.number} is still {active.state}; wait for it or cancel it")
        if project.active_policy_id is None:
            raise RoundError("the project has no active policy yet")
        pairs = count_pairs(project)
        if pairs < config["round"]["min_pairs"]:
            raise RoundError(
                f"only {pairs} usable preference pairs (A or B better); "
                f"a round needs at least {config['round']['min_pairs']}"
            )
        number = (project.rounds.aggregate(n=Max("number"))["n"] or 0) + 1
        training_round = TrainingRound.objects.create(
            project=project,
            number=number,
            config=config,
            started_by=user if user is not None and user.is_authenticated else None,
            policy_in_id=project.active_policy_id,
            progress={"stage": "queued", "done": 0, "total": 0, "message": "waiting for a worker"},
        )
        round_id = training_round.pk
        transaction.on_commit(lambda: _enqueue(round_id))
    return training_round


def _enqueue(round_id: int) -> None:
    from workers.pipeline import enqueue_round  # the web world hands over to the workers here

    enqueue_round(round_id)


def report_progress(round_id: int, stage: str, done: int, total: int, message: str = "") -> None:
    TrainingRound.objects.filter(pk=round_id).update(
        progress={"stage": stage, "done": done, "total": total, "message": message}
    )


def record_event(round_id: int, stage: str, step: int, data: dict[str, Any]) -> None:
    RoundEvent.objects.create(round_id=round_id, stage=stage, step=step, data=data)


def add_metrics(round_id: int, section: str, values: dict[str, Any]) -> None:
    with transaction.atomic():
        training_round = TrainingRound.objects.select_for_update().get(pk=round_id)
        training_round.metrics = {**training_round.metrics, section: values}
        training_round.save(update_fields=["metrics"])


def curves(training_round: TrainingRound) -> dict[str, dict[str, list]]:
    """Metric curves per stage: {stage: {metric: [[step, value], ...]}} for the round page plots."""
    out: dict[str, dict[str, list]] = {}
    for stage, step, data in training_round.events.order_by("id").values_list("stage", "step", "data"):
        for key, value in data.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out.setdefault(stage, {}).setdefault(key, []).append([step, value])
    return out
