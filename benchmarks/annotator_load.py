"""Annotators at work on the same machine: the web app under load while a benchmark trains.

`start_annotator_load(env, clients, directory)` runs the web app (`manage.py runserver`, DEBUG
off) on its own SQLite database with a project of plain-text comparisons, and `clients`
logged-in annotators who each load the annotate page and submit a judgment, in a loop, until
`stop()`. It is load, not a measurement of the web app: it competes for the cores with the
worker the way a team judging during a round does. The judgments made are counted in
`directory/annotator-load.json`.

    python -m benchmarks.annotator_load --clients 4 --seconds 60    # alone, to see it work
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "load-annotator-password"
COMPARISONS = 5000


def setup_database() -> None:
    """The load project: users load-1..N come later; comparisons of plain text, no model needed."""
    import django

    django.setup()
    from django.core.management import call_command

    from webapp.annotation.models import Comparison
    from webapp.catalog.models import PolicyVersion, Prompt, Response
    from webapp.projects.models import Project

    call_command("migrate", verbosity=0)
    project, made = Project.objects.get_or_create(slug="load", defaults={"name": "Load", "overlap": 1})
    if not made:
        return
    policy = PolicyVersion.objects.create(
        project=project, number=0, checkpoint="-", base_model="-", status=PolicyVersion.Status.ACTIVE
    )
    project.active_policy = policy
    project.save(update_fields=["active_policy"])
    for i in range(COMPARISONS):
        prompt = Prompt.objects.create(
            project=project, conversation=[{"role": "user", "content": f"Question {i}?"}]
        )
        a, b = (
            Response.objects.create(
                prompt=prompt, policy=policy, text=f"Answer {side} to question {i}. " * 20
            )
            for side in "AB"
        )
        Comparison.objects.create(
            project=project, prompt=prompt, response_a=a, response_b=b, judgments_needed=1
        )


def make_users(clients: int) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from webapp.projects.models import Project

    project = Project.objects.get(slug="load")
    for i in range(1, clients + 1):
        user, made = get_user_model().objects.get_or_create(username=f"load-{i}")
        if made:
            user.set_password(PASSWORD)
            user.save()
        project.annotators.add(user)


class Client(threading.Thread):
    """One annotator: log in, then annotate page -> submit, until told to stop."""

    def __init__(self, base: str, username: str, stopped: threading.Event):
        super().__init__(daemon=True)
        self.base, self.username, self.stopped = base, username, stopped
        self.judgments = self.errors = 0
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def _csrf(self, html: str) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        return match.group(1) if match else ""

    def _post(self, path: str, data: dict, referer: str) -> str:
        request = urllib.request.Request(
            self.base + path,
            data=urllib.parse.urlencode(data).encode(),
            headers={"Referer": self.base + referer},
        )
        return self.opener.open(request, timeout=60).read().decode()

    def run(self) -> None:
        page = self.opener.open(self.base + "/login/", timeout=60).read().decode()
        self._post(
            "/login/",
            {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": self._csrf(page)},
            "/login/",
        )
        while not self.stopped.is_set():
            try:
                page = self.opener.open(self.base + "/p/load/annotate/", timeout=60).read().decode()
                action = re.search(r'action="(/p/load/annotate/\d+/)"', page)
                if action is None:
                    self.errors += 1
                    continue
                self._post(
                    action.group(1),
                    {
                        "choice": "left",
                        "strength": "2",
                        "reason": "",
                        "csrfmiddlewaretoken": self._csrf(page),
                    },
                    "/p/load/annotate/",
                )
                self.judgments += 1
            except OSError:
                self.errors += 1


@dataclass
class AnnotatorLoad:
    server: subprocess.Popen
    clients: list[Client]
    stopped: threading.Event
    directory: Path
    started: float

    def stop(self) -> None:
        self.stopped.set()
        for client in self.clients:
            client.join(timeout=60)
        self.server.terminate()
        self.server.wait(timeout=30)
        seconds = time.monotonic() - self.started
        summary = {
            "clients": len(self.clients),
            "seconds": seconds,
            "judgments": sum(c.judgments for c in self.clients),
            "errors": sum(c.errors for c in self.clients),
        }
        summary["judgments_per_s"] = summary["judgments"] / seconds
        (self.directory / "annotator-load.json").write_text(json.dumps(summary, indent=2))


def start_annotator_load(env: dict, clients: int, directory: Path) -> AnnotatorLoad:
    """The web app on its own database plus `clients` annotators judging in a loop (stop() ends it)."""
    from benchmarks.closed_loop import free_port
    from scripts.run_local import http_ok

    load_env = {
        **env,
        "DATABASE_URL": f"sqlite:///{directory / 'load.sqlite3'}",
        "DEBUG": "0",
        # DEBUG off needs a key; a throwaway database needs no lasting one.
        "SECRET_KEY": env.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "DJANGO_SETTINGS_MODULE": "webapp.config.settings",
    }
    subprocess.run(
        [sys.executable, "-m", "benchmarks.annotator_load", "--setup", "--clients", str(clients)],
        cwd=ROOT,
        env=load_env,
        check=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=load_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not http_ok(base + "/healthz"):
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError("the load web server did not start")
        time.sleep(0.2)
    stopped = threading.Event()
    workers = [Client(base, f"load-{i}", stopped) for i in range(1, clients + 1)]
    for client in workers:
        client.start()
    return AnnotatorLoad(server, workers, stopped, directory, time.monotonic())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "annotator_load")
    opts = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if opts.setup:
        setup_database()
        make_users(opts.clients)
        return
    opts.out.mkdir(parents=True, exist_ok=True)
    load = start_annotator_load(dict(os.environ), opts.clients, opts.out)
    time.sleep(opts.seconds)  # the load runs for as long as asked
    load.stop()
    print((opts.out / "annotator-load.json").read_text())


if __name__ == "__main__":
    main()
