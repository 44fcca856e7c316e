"""`import_prompts --project demo prompts.jsonl[.gz]`: all lines or none, read as the web's
import page reads an upload (without its size cap)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from webapp.datasets import services
from webapp.projects.models import Project


class Command(BaseCommand):
    help = "Import prompts from JSON lines; any bad line aborts the import and names the line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True)
        parser.add_argument("file")

    def handle(self, *args, project: str, file: str, **options) -> None:
        try:
            target = Project.objects.get(slug=project)
        except Project.DoesNotExist as exc:
            raise CommandError(f"no project with slug {project!r}") from exc
        try:
            with open(file, "rb") as handle:  # decoded line by line: a bad byte names its line
                count = services.import_prompt_file(target, handle, file)
        except services.PromptImportError as exc:
            raise CommandError(f"{file}: {exc}; nothing was imported") from exc
        self.stdout.write(f"imported {count} prompts")
