"""`import_preferences prefs.jsonl[.gz] --project demo --format hh|trl|trl-standard|ultrafeedback`:
preferences judged elsewhere, as complete comparisons judged by the `imported` user."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from webapp.datasets import imports
from webapp.datasets.management.commands.import_prompts import import_from, project_or_error


class Command(BaseCommand):
    help = (
        "Import preference pairs (the export's formats, or UltraFeedback's rated completions); "
        "any bad row aborts the import and names the line and field."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True)
        parser.add_argument("--format", required=True, choices=list(imports.PREFERENCE_FORMATS))
        parser.add_argument("file")

    def handle(self, *args, project: str, format: str, file: str, **options) -> None:
        target = project_or_error(project)
        result = import_from(file, lambda handle: imports.import_preferences(target, handle, file, format))
        self.stdout.write(
            f"imported {result.judgments} judged pairs of {result.prompts} prompts "
            f"(source {imports.file_source(format, file)!r})"
        )
