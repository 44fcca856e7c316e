"""`export_preferences --project demo --format trl --out prefs.jsonl`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from webapp.datasets import services
from webapp.projects.models import Project


class Command(BaseCommand):
    help = "Export a project's preference judgments as a dataset other tools read directly."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True)
        parser.add_argument("--format", default="trl", choices=sorted(services.EXPORT_FORMATS))
        parser.add_argument("--out", required=True, help="output file (a directory for --format hf)")

    def handle(self, *args, project: str, format: str, out: str, **options) -> None:
        try:
            target = Project.objects.get(slug=project)
        except Project.DoesNotExist as exc:
            raise CommandError(f"no project with slug {project!r}") from exc
        path, counts = services.export_preferences(target, format, out, as_archive=False)
        self.stdout.write(
            f"wrote {counts['pairs']} preference pairs to {path} "
            f"(skipped {counts['tie']} ties and {counts['both_bad']} both-bad judgments)"
        )
