"""What one training round costs on this machine, stage by stage, with the platform defaults.

    python -m benchmarks.round_cost [--judgments 256] [--overlap 2] [--set ppo.total_episodes=32 ...]

Builds a throw-away demo project in its own SQLite database under var/bench/round/ (policy v0
converted from the bundled SmolLM2, or --base-model), generates judgments/overlap comparisons,
lets scripted annotators make the judgments (the `shorter` rule), then runs one round with
exactly the code a Celery worker runs (the same task chain, executed in this process), and
prints seconds per stage as a share of the whole round. Setup (conversion, first comparisons)
is timed apart: it is not part of a round.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--judgments", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=2, help="annotators per comparison")
    parser.add_argument("--base-model", default="bundled")
    parser.add_argument(
        "--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="round config override"
    )
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "round")
    args = parser.parse_args(argv)

    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{args.out / 'db.sqlite3'}"
    os.environ["ARTIFACT_ROOT"] = str(args.out / "artifacts")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.config.settings")
    os.environ["SECRET_KEY"] = os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50)  # DEBUG is off
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from celery.signals import task_postrun, task_prerun
    from django.core.management import call_command

    from webapp.annotation.judges import shorter
    from webapp.annotation.simulate import simulate
    from webapp.catalog.generation import generate_comparisons
    from webapp.projects.models import Project
    from webapp.rounds import services
    from webapp.rounds.config import DEFAULTS
    from webapp.rounds.management.commands.start_round import parse_overrides
    from workers import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    stage_seconds: dict[str, float] = {}
    started: dict[str, float] = {}
    task_prerun.connect(
        lambda task_id, task, **kw: started.__setitem__(task_id, time.perf_counter()), weak=False
    )
    task_postrun.connect(
        lambda task_id, task, **kw: stage_seconds.__setitem__(
            task.name.rsplit(".", 1)[-1], time.perf_counter() - started.pop(task_id)
        ),
        weak=False,
    )

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("seed_demo", base_model=args.base_model, comparisons=0)
    project = Project.objects.get(slug="demo")
    project.overlap = args.overlap
    project.save(update_fields=["overlap"])
    setup_convert = time.perf_counter() - t0
    t1 = time.perf_counter()
    count = -(-args.judgments // args.overlap)
    generate_comparisons(project.pk, count, DEFAULTS["generate"], seed=0, progress=True)
    setup_generate = time.perf_counter() - t1
    made = simulate(project, args.judgments, shorter)

    t2 = time.perf_counter()
    training_round = services.start_round(project, overrides=parse_overrides(args.set))
    total = time.perf_counter() - t2
    training_round.refresh_from_db()
    result = {
        "state": training_round.state,
        "error": training_round.error[-2000:] if training_round.error else "",
        "judgments": made,
        "pairs": (training_round.dataset_counts or {}).get("pairs"),
        "setup_seconds": {
            "convert_and_seed": round(setup_convert, 1),
            "first_comparisons": round(setup_generate, 1),
        },
        "round_seconds": round(total, 1),
        "stage_seconds": {k: round(v, 1) for k, v in stage_seconds.items()},
        "config": training_round.config,
        "metrics": {
            "reward": {
                k: training_round.metrics.get("reward", {}).get(k)
                for k in ("eval_accuracy", "pairs_train", "dropped_too_long", "train_seconds")
            },
            "ppo": {
                k: training_round.metrics.get("ppo", {}).get(k)
                for k in ("reward_start", "reward_end", "kl_end", "seconds_per_update")
            },
            "evaluation": {
                k: v for k, v in training_round.metrics.get("evaluation", {}).items() if k != "samples"
            },
        },
        "machine": f"{os.cpu_count()} cores, torch threads {__import__('torch').get_num_threads()}",
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"\n{'stage':<28}{'seconds':>9}{'share':>8}")
    for name, seconds in stage_seconds.items():
        print(f"{name:<28}{seconds:>9.1f}{seconds / total:>8.0%}")
    print(f"{'round':<28}{total:>9.1f}{1:>8.0%}")
    return 0 if training_round.state == "done" else 1


if __name__ == "__main__":
    raise SystemExit(main())
