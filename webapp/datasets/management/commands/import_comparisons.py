"""`import_comparisons responses.jsonl[.gz] --project demo`: prompts with responses made
elsewhere (each by a named model), every pair a pending comparison for the annotators."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from webapp.datasets import imports
from webapp.datasets.management.commands.import_prompts import import_from, project_or_error


class Command(BaseCommand):
    help = (
        'Import {"prompt": ..., "responses": [{"model": ..., "text": ...}, ...]} rows to be judged '
        "here; any bad row aborts the import and names the line and field."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True)
        parser.add_argument("file")

    def handle(self, *args, project: str, file: str, **options) -> None:
        target = project_or_error(project)
        result = import_from(file, lambda handle: imports.import_comparisons(target, handle, file))
        self.stdout.write(
            f"imported {result.comparisons} comparisons of {result.prompts} prompts, "
            f"each to be judged {target.overlap} time{'s' if target.overlap != 1 else ''}"
        )
