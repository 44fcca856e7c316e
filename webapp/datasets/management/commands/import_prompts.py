"""`import_prompts --project demo prompts.jsonl[.gz]|prompts.csv|prompts.parquet|dataset-dir/`:
all rows or none, read as the web's import page reads an upload (without its size cap)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from webapp.datasets import imports, readers
from webapp.projects.models import Project


class Command(BaseCommand):
    help = (
        "Import prompts from JSON lines, CSV or Parquet (gzip or not) or a Hugging Face dataset "
        "directory; any bad row aborts the import and names the line and field."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True)
        parser.add_argument("file")

    def handle(self, *args, project: str, file: str, **options) -> None:
        target = project_or_error(project)
        try:
            with readers.opened(file) as handle:  # decoded line by line: a bad byte names its line
                count = imports.import_prompt_file(target, handle, file)
        except readers.ImportFileError as exc:
            raise CommandError(f"{file}: {exc}; nothing was imported") from exc
        self.stdout.write(f"imported {count} prompts")


def project_or_error(slug: str) -> Project:
    try:
        return Project.objects.get(slug=slug)
    except Project.DoesNotExist as exc:
        raise CommandError(f"no project with slug {slug!r}") from exc
