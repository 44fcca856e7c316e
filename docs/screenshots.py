"""Screenshots of the round pages for the docs: docs/img/round-learning.png, policy-versions.png,
round-failed.png; of the project's settings page refusing a misspelt key, project-settings.png; of
the members page, project-members.png; of the import page refusing a bad line of HH-RLHF preferences, prompt-import.png;
of the export page with a finished export job (written by the real job body) and one running,
export-jobs.png; and of the annotate page with its "?" keys overlay open, annotate-keys.png.

With `--database`, a copy of a real SQLite database is served: the one `benchmarks.closed_loop`
leaves per rule (var/bench/closed_loop/auto/<rule>/db.sqlite3), whose rounds, curves, samples and
policy versions a real run made; its last finished round is shown. Without it, a throwaway
project with plausible numbers is built. Either way a failed round with its retry button is added
(for round-failed.png), the app is served on a free local port and a staff user logs in with
Debian's Chromium (driven by Playwright's Python package; no browser download). Nothing outside
a temporary folder and docs/img/ is touched; no model is loaded.

    .venv/bin/python docs/screenshots.py [--database var/bench/closed_loop/auto/concise/db.sqlite3] \
        [--chromium /usr/bin/chromium] [--out docs/img]
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import socket
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
USERNAME, PASSWORD = "admin", "screenshots-only"

SAMPLES = [
    {
        "prompt": "How do I keep basil alive on a windowsill?",
        "old": "Basil is a popular herb that is used in many dishes, such as Italian and Thai cuisine. It is known "
        "for its fragrant leaves and it can be grown indoors or outdoors. There are many varieties of basil, "
        "including sweet basil, Thai basil and lemon basil, and each of them has its own flavour and its own "
        "needs when it comes to light, water and",
        "new": "Give it sun and steady water:\n\n1. Put it in your sunniest window (6+ hours of light).\n"
        "2. Water when the top centimetre of soil is dry; never let it sit in water.\n"
        "3. Pinch off flower buds so it keeps making leaves.",
    },
    {
        "prompt": "Summarise the plot of Hamlet in two sentences.",
        "old": "Hamlet is a tragedy written by William Shakespeare. It is one of his most famous plays. The play "
        "is set in Denmark and it tells the story of Prince Hamlet, who",
        "new": "Prince Hamlet learns from his father's ghost that his uncle Claudius murdered the king to take the "
        "throne and marry Hamlet's mother.\nHis hesitant quest for revenge ends in a duel in which nearly "
        "everyone, Hamlet included, dies.",
    },
    {
        "prompt": "Write a Python one-liner that reverses a string.",
        "old": "Sure! Here is a one-liner:\n\n    reversed_string = ''.join(reversed(s))\n\nThis uses the built-in "
        "reversed() function together with <str>.join() to build the reversed string.",
        "new": "s[::-1]\n\nThe slice walks the string backwards with step -1.",
    },
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def configure(workdir: Path, database: Path | None = None) -> None:
    """Point the settings at a temporary SQLite file (a copy of `database`, when given) and artifact
    folder, then set Django up."""
    target = workdir / "screenshots.sqlite3"
    if database is not None:
        import sqlite3

        with sqlite3.connect(database) as source, sqlite3.connect(target) as copy:
            source.backup(copy)  # a consistent copy, WAL included
    os.environ.update(
        DJANGO_SETTINGS_MODULE="webapp.config.settings",
        DATABASE_URL=f"sqlite:///{target}",
        PREFLOOP_VAR=str(workdir),
        ARTIFACT_ROOT=str(workdir / "artifacts"),
        STATIC_ROOT=str(workdir / "static"),
        DEBUG="0",
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),  # DEBUG off needs one
        LOG_LEVEL="WARNING",
        # Playwright's sync API runs an event loop in this thread; the ORM work is done before it starts.
        DJANGO_ALLOW_ASYNC_UNSAFE="true",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def build_fixture() -> str:
    """The demo rows; returns the project's slug."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from webapp.catalog.models import PolicyVersion
    from webapp.projects.models import Project
    from webapp.rounds.models import RoundEvent, TrainingRound

    get_user_model().objects.create_user(USERNAME, password=PASSWORD, is_staff=True, is_superuser=True)
    project = Project.objects.create(
        name="Demo", slug="demo", overlap=2, guidelines="Prefer the helpful answer."
    )
    v0 = PolicyVersion.objects.create(
        project=project,
        number=0,
        checkpoint="var/artifacts/demo/policies/v0000",
        base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
        status=PolicyVersion.Status.RETIRED,
    )
    reward = {
        "eval_accuracy": 0.6923,
        "pairs_train": 230,
        "pairs_eval": 26,
        "train_seconds": 146.2,
        "trimmed_pairs": 3,
        "dropped_too_long": 0,
    }
    ppo = {
        "reward_start": -0.214,
        "reward_end": 0.431,
        "kl_end": 0.052,
        "episodes": 48,
        "updates": 3,
        "seconds_total": 141.3,
        "response_length_end": 33.1,
    }
    evaluation = {
        "prompts": 24,
        "win_rate": 17 / 24,
        "kl": 0.412,
        "new_length": 33.6,
        "old_length": 44.9,
        "new_eos_fraction": 0.875,
        "old_eos_fraction": 0.4583,
        "new_reward_mean": 0.352,
        "old_reward_mean": -0.118,
        "samples": SAMPLES,
    }
    v1 = PolicyVersion.objects.create(
        project=project,
        number=1,
        parent=v0,
        checkpoint="var/artifacts/demo/policies/v0001",
        base_model=v0.base_model,
        status=PolicyVersion.Status.ACTIVE,
        metrics={"ppo": ppo, "evaluation": evaluation},
    )
    project.active_policy = v1
    project.save()
    finished = timezone.now()
    training_round = TrainingRound.objects.create(
        project=project,
        number=1,
        state=TrainingRound.State.DONE,
        policy_in=v0,
        policy_out=v1,
        dataset_path="var/artifacts/demo/rounds/0001/dataset.jsonl",
        dataset_sha256="9f2c4e0b7a51d3e8c6f1a2b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8",
        dataset_counts={"pairs": 256, "judgments": 512},
        progress={"stage": "done", "done": 0, "total": 0, "message": ""},
        metrics={"reward": reward, "ppo": ppo, "evaluation": evaluation},
        started=finished - timedelta(seconds=463),
        finished=finished,
    )
    events = []
    for step in range(1, 30):
        events.append(
            RoundEvent(
                round=training_round,
                stage="reward",
                step=step,
                data={
                    "loss": 0.69 - 0.17 * (1 - math.exp(-step / 9)) + 0.02 * math.sin(step * 1.7),
                    "accuracy": 0.5 + 0.19 * (1 - math.exp(-step / 8)) + 0.03 * math.sin(step * 2.3),
                },
            )
        )
    for step in range(1, 13):
        events.append(
            RoundEvent(
                round=training_round,
                stage="policy",
                step=step,
                data={
                    "score": -0.21 + 0.64 * (1 - math.exp(-step / 5)) + 0.04 * math.sin(step * 1.3),
                    "kl": 0.052 * step / 12 + 0.004 * math.sin(step),
                    "response_length": 45 - 12 * (1 - math.exp(-step / 4)),
                },
            )
        )
    RoundEvent.objects.bulk_create(events)
    return project.slug


def real_project() -> tuple[str, int]:
    """The copied database's project with the most finished rounds, and its last finished round."""
    from django.contrib.auth import get_user_model

    from webapp.rounds.models import TrainingRound

    last = TrainingRound.objects.filter(state=TrainingRound.State.DONE).order_by("-number").first()
    if last is None:
        raise SystemExit("the database has no finished round to show")
    user, _ = get_user_model().objects.get_or_create(username=USERNAME)
    user.is_staff = user.is_superuser = True
    user.set_password(PASSWORD)
    user.save()
    return last.project.slug, last.number


def add_members(slug: str) -> None:
    """A team on the members page: a project admin, two annotators and a viewer."""
    from django.contrib.auth import get_user_model

    from webapp.projects.models import Membership, Project
    from webapp.projects.roles import Role

    project = Project.objects.get(slug=slug)
    team = [("owner", Role.ADMIN), ("alice", Role.ANNOTATOR), ("bob", Role.ANNOTATOR), ("carol", Role.VIEWER)]
    for username, role in team:
        user, _ = get_user_model().objects.get_or_create(username=username)
        Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})


def add_failed_round(slug: str) -> int:
    """A round that failed in its reward stage (the disk with the base model went away), for the
    retry screenshot: what `run_stage` stores, a line in words and then the traceback."""
    from django.db.models import Max
    from django.utils import timezone

    from webapp.projects.models import Project
    from webapp.rounds.models import TrainingRound

    project = Project.objects.get(slug=slug)
    number = (project.rounds.aggregate(n=Max("number"))["n"] or 0) + 1
    now = timezone.now()
    TrainingRound.objects.create(
        project=project,
        number=number,
        state=TrainingRound.State.FAILED,
        stopped_stage="reward",
        attempt=1,
        policy_in=project.active_policy,
        started=now - timedelta(seconds=48),
        finished=now,
        dataset_counts={"pairs": 83, "judgments": 128},
        timeline={
            "snapshot": (now - timedelta(seconds=48)).isoformat(),
            "reward": (now - timedelta(seconds=45)).isoformat(),
            "failed": now.isoformat(),
        },
        progress={"stage": "reward", "done": 0, "total": 0, "message": ""},
        error="reward failed: OSError: [Errno 5] Input/output error: 'var/artifacts/demo/policies/v0001/model.safetensors'"
        '\n\nTraceback (most recent call last):\n  File "workers/stage.py", line 131, in run_stage\n    yield stage\n'
        '  File "workers/tasks/reward.py", line 30, in train_reward\n    result = train_reward_model(records, args, ...)\n'
        "OSError: [Errno 5] Input/output error",
    )
    return number


def add_export_jobs(slug: str) -> None:
    """Judged comparisons, one export job written by `jobs.run_export` (what the worker runs: a
    real file and card) and one still running at 62 %, for the export page."""
    from django.contrib.auth import get_user_model

    from webapp.annotation.models import Comparison
    from webapp.annotation.services import add_judgment
    from webapp.catalog.models import Prompt, Response
    from webapp.datasets import jobs
    from webapp.datasets.exporting import ExportSpec
    from webapp.datasets.models import ExportJob
    from webapp.projects.models import Project
    from webapp.rounds.state_machine import this_process

    project = Project.objects.get(slug=slug)
    alice, bob = (get_user_model().objects.get(username=name) for name in ("alice", "bob"))
    policy = project.active_policy
    for i, sample in enumerate(SAMPLES * 8):
        prompt = Prompt.objects.create(
            project=project, conversation=[{"role": "user", "content": sample["prompt"]}]
        )
        old = Response.objects.create(prompt=prompt, policy=policy, text=sample["old"])
        new = Response.objects.create(prompt=prompt, policy=policy, text=sample["new"])
        comparison = Comparison.objects.create(
            project=project, prompt=prompt, response_a=old, response_b=new, judgments_needed=2
        )
        add_judgment(comparison, alice, "b", strength=3)
        add_judgment(comparison, bob, "b" if i % 5 else ("tie" if i % 2 else "a"), strength=2)
    admin = get_user_model().objects.get(username=USERNAME)
    finished = jobs.start_export(project, admin, ExportSpec(fmt="trl", aggregation="majority"))
    jobs.run_export(finished.pk)
    ExportJob.objects.create(
        project=project,
        requested_by=admin,
        spec=ExportSpec(fmt="parquet").to_mapping(),
        status=ExportJob.Status.RUNNING,
        runner=this_process(),
        done=620_000,
        total=1_000_000,
    )


def add_pending_comparison(slug: str) -> None:
    """One comparison still waiting for a judgment, and the screenshot user in the project's queue
    (a project admin is leased comparisons), for the annotate page."""
    from django.contrib.auth import get_user_model

    from webapp.annotation.models import Comparison
    from webapp.catalog.models import Prompt, Response
    from webapp.projects.models import Membership, Project
    from webapp.projects.roles import Role

    project = Project.objects.get(slug=slug)
    admin = get_user_model().objects.get(username=USERNAME)
    Membership.objects.update_or_create(project=project, user=admin, defaults={"role": Role.ADMIN})
    sample = SAMPLES[2]
    prompt = Prompt.objects.create(
        project=project, conversation=[{"role": "user", "content": sample["prompt"]}]
    )
    old = Response.objects.create(prompt=prompt, policy=project.active_policy, text=sample["old"])
    new = Response.objects.create(prompt=prompt, policy=project.active_policy, text=sample["new"])
    Comparison.objects.create(
        project=project, prompt=prompt, response_a=old, response_b=new, judgments_needed=1
    )


def serve(port: int) -> None:
    """The app under Django's threaded development WSGI server, in a daemon thread."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args) -> None:  # keep the script's output to the file names
            pass

    from webapp.config.wsgi import application

    server = ThreadedWSGIServer(("127.0.0.1", port), QuietHandler)
    server.set_app(application)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def shoot(base: str, slug: str, chromium: str, out: Path, done: int, failed: int) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(20_000)
            page.goto(f"{base}/login/")
            page.fill("input[name=username]", USERNAME)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")

            page.goto(f"{base}/p/{slug}/rounds/{done}/")
            page.wait_for_selector("#charts .chart")  # the first poll has drawn the curves
            page.wait_for_selector("#stages li.done")
            page.wait_for_timeout(600)  # let the progress bar's CSS transition finish
            saved.append(out / "round-learning.png")
            page.screenshot(path=str(saved[-1]), full_page=True)

            page.goto(f"{base}/p/{slug}/policies/")
            page.wait_for_selector("[data-testid=version-row]")
            saved.append(out / "policy-versions.png")
            page.screenshot(path=str(saved[-1]), full_page=True)

            page.goto(f"{base}/p/{slug}/rounds/{failed}/")
            page.wait_for_selector("[data-testid=retry-round]")
            saved.append(out / "round-failed.png")
            page.screenshot(path=str(saved[-1]), clip={"x": 0, "y": 0, "width": 1280, "height": 520})

            # The settings page refusing a misspelt training key: the error is on its field.
            page.goto(f"{base}/p/{slug}/settings/")
            page.fill("#id_training_config", '{\n  "ppo": {"kl_coeff": 0.05}\n}')
            page.click("[data-testid=save-settings]")
            page.wait_for_selector("[data-testid=error-training_config]")
            saved.append(out / "project-settings.png")
            page.screenshot(path=str(saved[-1]), full_page=True)

            page.goto(f"{base}/p/{slug}/members/")
            page.wait_for_selector("[data-testid=member-owner]")
            saved.append(out / "project-members.png")
            page.screenshot(path=str(saved[-1]), full_page=True)

            # An import of HH-RLHF preferences whose second line lacks its rejected transcript:
            # nothing is imported, the message names the line and the field, and the kind and
            # format chosen stay chosen.
            lines = (
                '{"chosen": "\\n\\nHuman: Name a prime.\\n\\nAssistant: Seven.", '
                '"rejected": "\\n\\nHuman: Name a prime.\\n\\nAssistant: Nine."}\n'
                '{"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello!"}\n'
            )
            page.goto(f"{base}/p/{slug}/prompts/import/")
            page.check("input[name=kind][value=preferences]")
            page.select_option("select[name=format]", "hh")
            page.set_input_files(
                "input[type=file]",
                {"name": "harmless-base.jsonl", "mimeType": "application/jsonl", "buffer": lines.encode()},
            )
            page.click("[data-testid=import-prompts]")
            page.wait_for_selector("[data-testid=import-error], [data-testid=error-file]")
            saved.append(out / "prompt-import.png")
            page.screenshot(path=str(saved[-1]), full_page=True)

            # The export page: a finished job with its links, one running (export.js polls it).
            page.goto(f"{base}/p/{slug}/export/")
            page.wait_for_selector("[data-testid=download]")
            page.wait_for_timeout(600)  # the running job's first poll, the bar's transition
            saved.append(out / "export-jobs.png")
            page.screenshot(path=str(saved[-1]), full_page=True)

            # The annotate page with "?" pressed: every key the page registered, by group.
            page.goto(f"{base}/p/{slug}/annotate/")
            page.wait_for_selector("#judgment-form")
            page.keyboard.press("?")
            page.wait_for_selector("#keys-overlay [role=dialog]")
            saved.append(out / "annotate-keys.png")
            page.screenshot(path=str(saved[-1]))
        finally:
            browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--database", type=Path, help="a real SQLite database to copy and show (see above)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prefloop-screens-") as tmp:
        configure(Path(tmp), args.database)
        slug, done = real_project() if args.database else (build_fixture(), 1)
        failed = add_failed_round(slug)
        add_members(slug)
        add_export_jobs(slug)
        add_pending_comparison(slug)
        port = free_port()
        serve(port)
        for path in shoot(f"http://127.0.0.1:{port}", slug, args.chromium, args.out, done, failed):
            print(path)


if __name__ == "__main__":
    main()
