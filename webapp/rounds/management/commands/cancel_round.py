"""`cancel_round --project demo`: cancel the running round; its stage stops at its next step."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from webapp.rounds import services
from webapp.rounds.management.commands.start_round import project_or_error


class Command(BaseCommand):
    help = "Cancel the project's running round (the active policy stays as it is)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True)

    def handle(self, *args, project: str, **options) -> None:
        try:
            training_round = services.cancel_round(project_or_error(project))
        except services.RoundError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"round {training_round.number} cancelled (it was in {training_round.stopped_stage})"
        )
