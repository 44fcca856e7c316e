"""`retry_round --project demo [--wait]`: run the latest failed or cancelled round again from the
stage where it stopped."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from webapp.rounds import services
from webapp.rounds.management.commands.start_round import follow, project_or_error
from webapp.rounds.models import TrainingRound


class Command(BaseCommand):
    help = "Retry the project's latest failed or cancelled round from the stage where it stopped."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True)
        parser.add_argument("--wait", action="store_true", help="follow the round until it ends")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between progress checks")

    def handle(self, *args, project: str, wait: bool, poll: float, **options) -> None:
        target = project_or_error(project)
        try:
            training_round = services.retry_round(target)
        except services.RoundError as exc:
            raise CommandError(str(exc)) from exc
        if training_round.state == TrainingRound.State.FAILED:
            raise CommandError(f"round {training_round.number} not retried: {training_round.error}")
        self.stdout.write(
            f"round {training_round.number} sent again from {training_round.state} "
            f"(attempt {training_round.attempt + 1} of that stage)"
        )
        if wait:
            follow(self, training_round, poll)
