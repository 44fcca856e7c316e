"""`export_preferences --project demo --format trl --out prefs.jsonl [--aggregation majority]
[--round N ...] [--after DATE] [--before DATE] [--annotator NAME ...] [--source S ...]
[--push-to-hub OWNER/NAME]`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from webapp.datasets import services
from webapp.datasets.exporting import AGGREGATIONS, ExportResult, ExportSpec, export
from webapp.projects.models import Project

OPTION_OF_FIELD = {
    "fmt": "--format",
    "aggregation": "--aggregation",
    "rounds": "--round",
    "after": "--after",
    "before": "--before",
    "annotators": "--annotator",
    "sources": "--source",
}


class Command(BaseCommand):
    help = "Export a project's preference judgments as a dataset other tools read directly."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True)
        parser.add_argument("--format", default="trl", choices=sorted(services.EXPORT_FORMATS))
        parser.add_argument("--out", required=True, help="output file (a directory for --format hf)")
        parser.add_argument(
            "--aggregation",
            default="all",
            choices=AGGREGATIONS,
            help="all: a pair per A/B judgment; majority / unanimous: a pair per comparison",
        )
        parser.add_argument(
            "--round",
            dest="rounds",
            type=int,
            action="append",
            metavar="N",
            help="only comparisons of round N (0: the project's first, of no round); repeatable",
        )
        parser.add_argument("--after", help="only judgments made after this ISO date or time")
        parser.add_argument("--before", help="only judgments made at or before this ISO date or time")
        parser.add_argument(
            "--annotator",
            dest="annotators",
            action="append",
            metavar="NAME",
            help="only this annotator's judgments (username); repeatable",
        )
        parser.add_argument(
            "--source",
            dest="sources",
            action="append",
            metavar="S",
            help='only judgments of this source ("" = judged here, or an import\'s "format:file"); repeatable',
        )
        parser.add_argument(
            "--push-to-hub",
            metavar="OWNER/NAME",
            help="then upload the file and its card to this Hugging Face dataset repo (token: HF_TOKEN)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    def handle(self, *args, project: str, format: str, out: str, **options) -> None:
        try:
            target = Project.objects.get(slug=project)
        except Project.DoesNotExist as exc:
            raise CommandError(f"no project with slug {project!r}") from exc
        fields = {
            name: options.get(name)
            for name in ("aggregation", "rounds", "after", "before", "annotators", "sources")
        }
        try:
            spec = ExportSpec.from_mapping({"fmt": format, **fields})
        except ValueError as exc:
            raise CommandError(_with_option(str(exc))) from exc
        if spec.annotators:
            known = set(
                get_user_model()
                .objects.filter(username__in=spec.annotators)
                .values_list("username", flat=True)
            )
            missing = [name for name in spec.annotators if name not in known]
            if missing:
                raise CommandError(f"--annotator: no user named {missing[0]!r}")
        repo = options.get("push_to_hub")
        token = os.environ.get("HF_TOKEN", "")
        if repo and not token:  # refused before the export is written, not after
            raise CommandError(
                "--push-to-hub needs a Hugging Face token in the environment variable HF_TOKEN"
            )
        result = self._export(target, spec, Path(out), quiet=options.get("no_progress", False))
        counts = result.counts
        skipped = f"skipped {counts['tie']} ties and {counts['both_bad']} both-bad judgments"
        if spec.fmt == "raw":
            self.stdout.write(f"wrote {counts['rows']} judgments to {result.path} (card: {result.card})")
        else:
            left = (
                f", {counts['left_out']} comparisons without a {spec.aggregation} pair"
                if "left_out" in counts
                else ""
            )
            self.stdout.write(
                f"wrote {counts['pairs']} preference pairs to {result.path} ({skipped}{left}; card: {result.card})"
            )
        if repo:
            url = push_to_hub(result, repo, token)
            self.stdout.write(f"pushed {result.path.name} and README.md to {url}")

    def _export(self, project: Project, spec: ExportSpec, out: Path, quiet: bool) -> ExportResult:
        if quiet:
            return export(project, spec, out)
        from tqdm import tqdm

        with tqdm(total=0, unit="judgment", unit_scale=True, file=sys.stderr, desc="export") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            return export(project, spec, out, progress=progress)


def _with_option(message: str) -> str:
    """ExportSpec names its field ("field 'after': ..."); the command says the option instead."""
    for name, option in OPTION_OF_FIELD.items():
        message = message.replace(f"field '{name}'", option).replace(f"'{name}'", option)
    return message


def push_to_hub(result: ExportResult, repo: str, token: str) -> str:
    """Upload the export and its card to a dataset repo (made when missing); CommandError, not a
    traceback, when the Hub cannot be reached or refuses."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(token=token)
    try:
        api.create_repo(repo, repo_type="dataset", exist_ok=True)
        if result.path.is_dir():
            api.upload_folder(
                folder_path=str(result.path), path_in_repo=result.path.name, repo_id=repo, repo_type="dataset"
            )
        else:
            api.upload_file(
                path_or_fileobj=str(result.path),
                path_in_repo=result.path.name,
                repo_id=repo,
                repo_type="dataset",
            )
        api.upload_file(
            path_or_fileobj=str(result.card), path_in_repo="README.md", repo_id=repo, repo_type="dataset"
        )
    except HfHubHTTPError as exc:
        raise CommandError(
            f"the Hugging Face Hub refused the upload to {repo!r}: {exc}. The export is at {result.path}."
        ) from exc
    except (OSError, ValueError) as exc:  # no network: connection errors are OSErrors
        raise CommandError(
            f"could not reach the Hugging Face Hub to push {repo!r} ({type(exc).__name__}: {exc}); "
            f"the export is at {result.path}. Push it later from a machine with network access."
        ) from exc
    return f"https://huggingface.co/datasets/{repo}"
