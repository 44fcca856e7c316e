"""`start_round --project demo [--wait] [--set section.key=value ...]`."""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from webapp.projects.models import Project
from webapp.rounds import services
from webapp.rounds.models import TrainingRound


def parse_overrides(items: list[str]) -> dict:
    """`reward.epochs=2` -> {"reward": {"epochs": 2}}; values are JSON when they parse as JSON."""
    overrides: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise CommandError(f"--set {item!r}: expected section.key=value, e.g. reward.epochs=2")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        overrides.setdefault(section, {})[name] = value
    return overrides


def project_or_error(slug: str) -> Project:
    try:
        return Project.objects.get(slug=slug)
    except Project.DoesNotExist as exc:
        raise CommandError(f"no project with slug {slug!r}") from exc


class Command(BaseCommand):
    help = "Start a training round for a project; with --wait, show its progress until it ends."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True)
        parser.add_argument("--wait", action="store_true", help="follow the round until it ends")
        parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between progress checks")

    def handle(self, *args, project: str, wait: bool, set: list[str], poll: float, **options) -> None:
        target = project_or_error(project)
        try:
            training_round = services.start_round(target, overrides=parse_overrides(set))
        except services.RoundError as exc:
            raise CommandError(str(exc)) from exc
        training_round.refresh_from_db()  # sending happens on commit, and may have failed
        if training_round.state == TrainingRound.State.FAILED:
            raise CommandError(f"round {training_round.number} not started: {training_round.error}")
        self.stdout.write(f"round {training_round.number} queued")
        if wait:
            follow(self, training_round, poll)


def follow(command: BaseCommand, training_round: TrainingRound, poll: float) -> None:
    """Show the round's progress until it ends; a round that does not end done is an error."""
    started = time.monotonic()
    with tqdm(total=0, desc=training_round.state, unit="step") as bar:
        while True:
            training_round.refresh_from_db()
            progress = training_round.progress or {}
            bar.set_description(training_round.state)
            bar.total = progress.get("total") or 0
            bar.n = progress.get("done") or 0
            bar.refresh()
            if not training_round.is_active:
                break
            time.sleep(poll)  # a CLI polling the database, not a test waiting on a race
    elapsed = time.monotonic() - started
    if training_round.state != TrainingRound.State.DONE:
        raise CommandError(f"round {training_round.number} {training_round.state}: {training_round.error}")
    command.stdout.write(
        f"round {training_round.number} done in {elapsed:.0f} s; active policy v{training_round.policy_out.number}"
    )
    command.stdout.write(json.dumps(training_round.metrics, indent=2, default=str))
