"""`activate_policy --project demo --version N`: serve version N (roll back or forward)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from webapp.rounds import services
from webapp.rounds.management.commands.start_round import project_or_error


class Command(BaseCommand):
    help = "Make policy version N the project's active policy; the next comparisons come from it."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version N replaces Django's own --version (which prints Django's version).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True)
        parser.add_argument("--version", required=True, type=int, dest="number", metavar="N")

    def handle(self, *args, project: str, number: int, **options) -> None:
        try:
            policy = services.activate_policy(project_or_error(project), number)
        except services.RoundError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"v{policy.number} is now the active policy")
