"""`import_prompts --project demo prompts.jsonl[.gz]|prompts.csv|prompts.parquet|dataset-dir/`:
all rows or none, read as the web's import page reads an upload (without its size cap)."""

from __future__ import annotations

from typing import IO, Callable, TypeVar

from django.core.management.base import BaseCommand, CommandError

from webapp.datasets import imports, readers
from webapp.projects.models import Project

T = TypeVar("T")


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
        count = import_from(file, lambda handle: imports.import_prompt_file(target, handle, file))
        self.stdout.write(f"imported {count} prompts")


def import_from(file: str, run: Callable[[IO[bytes]], T]) -> T:
    """`run` on the opened file (read as bytes, so a bad byte names its line); a bad file or row
    becomes the command's error, and nothing was imported (every import is all or nothing)."""
    try:
        with readers.opened(file) as handle:
            return run(handle)
    except readers.ImportFileError as exc:
        raise CommandError(f"{file}: {exc}; nothing was imported") from exc


def project_or_error(slug: str) -> Project:
    try:
        return Project.objects.get(slug=slug)
    except Project.DoesNotExist as exc:
        raise CommandError(f"no project with slug {slug!r}") from exc
