"""Starting rounds and recording what their stages report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Max

from webapp.catalog import services as catalog
from webapp.catalog.models import PolicyVersion
from webapp.catalog.text import json_safe
from webapp.datasets.exporting import ExportSpec, export_counts
from webapp.projects.models import Project
from webapp.rounds import config as round_config
from webapp.rounds import dispatch, state_machine
from webapp.rounds.models import RoundEvent, TrainingRound
from webapp.rounds.state_machine import TERMINAL


class RoundError(Exception):
    """A round cannot start; the message says why, in words for the person who pressed start."""


def start_round(project: Project, user=None, overrides: dict[str, Any] | None = None) -> TrainingRound:
    """Create round N+1 and send its pipeline once the transaction commits.

    When the broker cannot be reached the round is marked failed at once, with the reason, so it
    never blocks the project as a round queued for good; `retry_round` sends it later."""
    try:
        # Every key checked before anything runs: a misspelt one would fail a stage much later.
        for given in (project.training_config, overrides):
            if given:
                round_config.check_overrides(given)
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
        since = judgments_since(project, config)
        pairs = count_pairs(project, config, after=since.created if since else None)
        if pairs < config["round"]["min_pairs"]:
            window = (
                f' judged since round {since.number} (round.judgments is "new"; '
                f"{count_pairs(project, config)} in all)"
                if since
                else ""
            )
            raise RoundError(
                f"only {pairs} usable preference pairs (A or B better){window}; "
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
        transaction.on_commit(lambda: _send(round_id, TrainingRound.State.QUEUED))
    return training_round


def count_pairs(project: Project, config: dict[str, Any], after=None) -> int:
    """The preference pairs a round's snapshot would hold: A-or-B judgments (made after `after`,
    when given), less imported ones when round.imported is "exclude"."""
    imported = config["round"].get("imported", "include") == "include"
    spec = ExportSpec("trl", after=after, sources=None if imported else ("",))
    return export_counts(project, spec)["pairs"]


def _send(round_id: int, stage: str) -> None:
    try:
        dispatch.send(round_id, stage)
    except dispatch.QueueUnavailable as exc:
        state_machine.fail(
            round_id, f"Not sent to the workers: {exc}. Retry the round once the queue is back."
        )


def latest_round(project: Project) -> TrainingRound | None:
    return project.rounds.order_by("-number").first()


def retry_round(project: Project) -> TrainingRound:
    """Run the project's latest round again from the stage where it failed or was cancelled.

    Only the latest round, and only while the project still serves the policy it started from:
    otherwise its result would replace a newer policy."""
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        training_round = latest_round(project)
        if training_round is None:
            raise RoundError("the project has no round to retry")
        if training_round.state not in (TrainingRound.State.FAILED, TrainingRound.State.CANCELLED):
            raise RoundError(
                f"round {training_round.number} is {training_round.state}; only a failed or "
                "cancelled round can be retried"
            )
        if training_round.policy_in_id != project.active_policy_id:
            raise RoundError(
                f"round {training_round.number} started from a policy that is no longer active; "
                "start a new round instead"
            )
        stage = state_machine.reopen(training_round.pk, by="retry")
        round_id = training_round.pk
        transaction.on_commit(lambda: _send(round_id, stage))
    training_round.refresh_from_db()
    return training_round


def cancel_round(project: Project) -> TrainingRound:
    """Cancel the project's running round; its stage stops at the next training step."""
    training_round = project.rounds.exclude(state__in=TERMINAL).order_by("-number").first()
    if training_round is None or not state_machine.cancel(training_round.pk):
        raise RoundError("no round of this project is running")
    training_round.refresh_from_db()
    return training_round


def activate_policy(project: Project, number: int) -> PolicyVersion:
    """Serve policy version `number` (roll back or forward); refused while a round runs, whose
    deploy would replace it."""
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        active = project.rounds.exclude(state__in=TERMINAL).first()
        if active is not None:
            raise RoundError(f"round {active.number} is {active.state}; cancel it or let it finish first")
        policy = PolicyVersion.objects.filter(project=project, number=number).first()
        if policy is None:
            raise RoundError(f"the project has no policy version {number}")
        if not Path(policy.checkpoint).is_dir():
            raise RoundError(f"v{number}'s checkpoint is missing ({policy.checkpoint})")
        catalog.deploy(policy)
    return policy


def judgments_since(project: Project, config: dict[str, Any]) -> TrainingRound | None:
    """The finished round whose snapshot the next round starts after, or None to train on all.

    With `round.judgments` "new" (the default) every judgment trains the policy once, in the
    first round after it was made, starting from the policy that generated it: a round's cost
    stays flat as the project grows, and the policy is not pulled again and again towards old
    pairs of answers it no longer gives. A failed or cancelled round used nothing up.
    """
    if config["round"].get("judgments", "new") == "all":
        return None
    return project.rounds.filter(state=TrainingRound.State.DONE).order_by("-number").first()


def report_progress(round_id: int, stage: str, done: int, total: int, message: str = "") -> None:
    TrainingRound.objects.filter(pk=round_id).update(
        progress={"stage": stage, "done": done, "total": total, "message": message}
    )


def clear_events(round_id: int, stage: str) -> None:
    RoundEvent.objects.filter(round_id=round_id, stage=stage).delete()


def record_event(round_id: int, stage: str, step: int, data: dict[str, Any]) -> None:
    RoundEvent.objects.create(round_id=round_id, stage=stage, step=step, data=data)


def add_metrics(round_id: int, section: str, values: dict[str, Any]) -> None:
    with transaction.atomic():
        training_round = TrainingRound.objects.select_for_update().get(pk=round_id)
        training_round.metrics = {**training_round.metrics, section: json_safe(values)}
        training_round.save(update_fields=["metrics"])


def curves(training_round: TrainingRound) -> dict[str, dict[str, list]]:
    """Metric curves per stage: {stage: {metric: [[step, value], ...]}} for the round page plots."""
    out: dict[str, dict[str, list]] = {}
    for stage, step, data in training_round.events.order_by("id").values_list("stage", "step", "data"):
        for key, value in data.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out.setdefault(stage, {}).setdefault(key, []).append([step, value])
    return out
