"""`simulate_annotators --project demo --judgments N [--rule shorter|longer|random|dotted.path]`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from webapp.annotation.judges import load_judge
from webapp.annotation.simulate import simulate
from webapp.projects.models import Project


class Command(BaseCommand):
    help = "Judge pending comparisons as scripted annotators (tests, demos, benchmarks, AI feedback)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--judgments", type=int, required=True, help="how many judgments to make")
        parser.add_argument(
            "--rule", default="shorter", help="shorter (default), longer, random, or a dotted path"
        )

    def handle(self, *args, project: str, judgments: int, rule: str, **options) -> None:
        try:
            judge = load_judge(rule)
            target = Project.objects.get(slug=project)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except Project.DoesNotExist as exc:
            raise CommandError(f"no project with slug {project!r}") from exc
        with tqdm(total=judgments, desc="judging", unit="judgment") as bar:
            made = simulate(target, judgments, judge, on_judgment=lambda: bar.update(1))
        self.stdout.write(f"made {made} judgments" + ("" if made == judgments else " (queue ran dry)"))
