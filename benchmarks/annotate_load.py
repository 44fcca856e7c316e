"""The annotator queue under load: judgments a second through the real web stack, against a bare view.

Builds a project of `--comparisons` pending comparisons (overlap 2) on a fresh database, logs in
`--clients` distinct annotators (a session each), starts gunicorn (`--workers` sync workers,
DEBUG off), and runs wrk (Debian's, `apt-get install wrk`) with one thread and one connection
per annotator, each looping "GET the annotate page, POST a judgment of its pair" for
`--seconds`. In the same run and under the same server and wrk settings it measures a bare
Django JSON view (no database), the ceiling for this server on this machine. Afterwards it
checks the database: judgments stored match the submits answered (plus at most one in flight per
client when wrk stopped), no comparison over-judged, nobody judging one twice, and the slot
counters equal to a recount.

    python -m benchmarks.annotate_load --database postgres --clients 50
    python -m benchmarks.annotate_load --database sqlite --clients 200 --comparisons 1000000

wrk is the load client because one C event loop per annotator is not the bottleneck the way a
Python client on the same two cores would be; its Lua script is `benchmarks/load/annotate.lua`.
Results: `--out/result.json`, and a row for `benchmarks/README.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import string
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOAD = Path(__file__).resolve().parent / "load"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_DB = "prefloop_bench_load"
SLUG = "load"
TEXT = (
    "Here is a careful answer to the question, with a short explanation of the main idea, a concrete "
    "example that shows it at work, and a note on where it does not apply. "
)


def database_url(kind: str, out: Path) -> str:
    if kind == "postgres":
        return f"postgres://postgres@127.0.0.1:5432/{POSTGRES_DB}"
    return f"sqlite:///{out / 'load.sqlite3'}"


def fresh_database(kind: str, out: Path) -> None:
    if kind == "postgres":
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {POSTGRES_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {POSTGRES_DB}")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{out / 'load.sqlite3'}{suffix}").unlink(missing_ok=True)


def build(comparisons: int, clients: int, history: int, batch: int = 20_000) -> list[tuple[str, str]]:
    """The project, its queue and its annotators; returns each client's (session key, CSRF secret)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.utils import timezone

    from webapp.annotation.models import Comparison, Judgment
    from webapp.catalog.models import Prompt, Response
    from webapp.projects.models import Project

    call_command("migrate", verbosity=0)
    User = get_user_model()
    password = make_password(secrets.token_urlsafe(16))
    users = User.objects.bulk_create([User(username=f"load-{i}", password=password) for i in range(clients)])
    project = Project.objects.create(
        name="Load", slug=SLUG, overlap=2, guidelines="Prefer the clearer answer."
    )
    project.annotators.add(*users)

    distinct = min(comparisons + history // 2, 10_000)  # prompts and answer pairs, cycled over comparisons
    prompts = Prompt.objects.bulk_create(
        [
            Prompt(
                project=project,
                conversation=[{"role": "user", "content": f"Question {i}: how does this work?"}],
            )
            for i in range(distinct)
        ],
        batch_size=batch,
    )
    responses = Response.objects.bulk_create(
        [Response(prompt=p, text=f"{side}. {TEXT * 2}") for p in prompts for side in ("First", "Second")],
        batch_size=batch,
    )
    pairs = [(prompts[i], responses[2 * i], responses[2 * i + 1]) for i in range(distinct)]

    def queue(count: int, **fields) -> list[Comparison]:
        made: list[Comparison] = []
        for start in range(0, count, batch):
            rows = [
                Comparison(
                    project=project, prompt=p, response_a=a, response_b=b, judgments_needed=2, **fields
                )
                for p, a, b in (pairs[i % distinct] for i in range(start, min(count, start + batch)))
            ]
            made += Comparison.objects.bulk_create(rows, batch_size=batch)
            print(f"  {len(made):,} / {count:,} comparisons", file=sys.stderr, end="\r")
        print(file=sys.stderr)
        return made

    if history:  # earlier work: complete comparisons judged by these same annotators, days ago
        done = queue(history // 2, judged=2, status=Comparison.Status.COMPLETE)
        past = timezone.now() - timedelta(days=3)
        for start in range(0, len(done), batch // 2):
            Judgment.objects.bulk_create(
                [
                    Judgment(comparison=c, annotator=users[(2 * n + k) % clients], choice="a", created=past)
                    for n, c in enumerate(done[start : start + batch // 2], start=start)
                    for k in (0, 1)
                ],
                batch_size=batch,
            )
        Judgment.objects.filter(comparison__project=project).update(created=past)
    queue(comparisons)
    from django.db import connection

    if connection.vendor == "postgresql":
        # What autovacuum does minutes after a bulk load. This machine's server runs with
        # autovacuum off; unanalyzed, a million rows read as 19 and the page's count of what is
        # left scanned all of them (2 s a page). SQLite is left as `make run` leaves it.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    tokens = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        tokens.append((session.session_key, csrf))
    return tokens


def check(clients: int, submits: int, before: int) -> dict:
    """The guarantees after the run, read from the database."""
    from django.db import connection

    from webapp.annotation.models import Judgment

    made = Judgment.objects.count() - before
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM annotation_comparison c
               WHERE (SELECT count(*) FROM annotation_judgment j WHERE j.comparison_id = c.id) > c.judgments_needed"""
        )
        over = cursor.fetchone()[0]
        cursor.execute(
            """SELECT count(*) FROM (SELECT comparison_id, annotator_id FROM annotation_judgment
               GROUP BY comparison_id, annotator_id HAVING count(*) > 1) twice"""
        )
        twice = cursor.fetchone()[0]
        cursor.execute(
            """SELECT count(*) FROM annotation_comparison c
               WHERE c.judged <> (SELECT count(*) FROM annotation_judgment j WHERE j.comparison_id = c.id)
                  OR c.leased <> (SELECT count(*) FROM annotation_assignment a
                                  WHERE a.comparison_id = c.id AND a.completed IS NULL)"""
        )
        drift = cursor.fetchone()[0]
    in_flight = made - submits
    return {
        "judgments_stored": made,
        "stored_minus_answered": in_flight,
        "stored_matches_answered": 0 <= in_flight <= clients,
        "over_judged": over,
        "judged_twice_by_one": twice,
        "counters_off": drift,
        "ok": 0 <= in_flight <= clients and over == 0 and twice == 0 and drift == 0,
    }


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict, port: int, workers: int, out: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "webapp.config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--backlog",
            "4096",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=env,
        stdout=(out / "gunicorn.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    import urllib.request

    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare/", timeout=2).read()
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start; see {out / 'gunicorn.log'}") from None
            time.sleep(0.2)


def wrk(script: Path, url: str, clients: int, seconds: int, result: Path, env: dict) -> dict:
    command = ["wrk", "-t", str(clients), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "10s"]
    subprocess.run([*command, "-s", str(script), url], check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads(result.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--comparisons", type=int, default=20_000, help="pending comparisons, overlap 2")
    parser.add_argument("--history", type=int, default=0, help="earlier judgments by the same annotators")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "annotate_load")
    opts = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")

    out = opts.out / f"{opts.database}-{opts.comparisons}-{opts.clients}"
    out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(opts.database, out),
        "DJANGO_SETTINGS_MODULE": "benchmarks.load.settings",
        "DEBUG": "0",
        "SECRET_KEY": "annotate-load: a throwaway database of made-up comparisons",
        "PREFLOOP_VAR": str(out / "var"),
        "ANNOTATE_LOAD_SLUG": SLUG,
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    fresh_database(opts.database, out)
    django.setup()
    print(f"building {opts.comparisons:,} comparisons, {opts.history:,} earlier judgments", file=sys.stderr)
    started = time.monotonic()
    tokens = build(opts.comparisons, opts.clients, opts.history)
    build_seconds = time.monotonic() - started
    (out / "clients.txt").write_text("".join(f"{s} {c}\n" for s, c in tokens))
    from django.db import connections

    from webapp.annotation.models import Judgment

    before = Judgment.objects.count()
    connections.close_all()

    port = free_port()
    server = start_server(env, port, opts.workers, out)
    try:
        base = f"http://127.0.0.1:{port}"
        wrk_env = {**env, "ANNOTATE_LOAD_CLIENTS": str(out / "clients.txt")}
        print(f"bare view, {opts.clients} clients, {opts.seconds} s", file=sys.stderr)
        bare = wrk(
            LOAD / "bare.lua",
            f"{base}/bench/bare/",
            opts.clients,
            opts.seconds,
            out / "bare.json",
            {**wrk_env, "ANNOTATE_LOAD_RESULT": str(out / "bare.json")},
        )
        print(f"annotate loop, {opts.clients} clients, {opts.seconds} s", file=sys.stderr)
        load = wrk(
            LOAD / "annotate.lua",
            f"{base}/p/{SLUG}/annotate/",
            opts.clients,
            opts.seconds,
            out / "annotate.json",
            {**wrk_env, "ANNOTATE_LOAD_RESULT": str(out / "annotate.json")},
        )
        load_avg = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=30)

    bare_rps = bare["requests"] / bare["seconds"]
    judgments_per_s = load["submits"] / load["seconds"]
    result = {
        "database": opts.database,
        "comparisons": opts.comparisons,
        "history": opts.history,
        "clients": opts.clients,
        "seconds": opts.seconds,
        "workers": opts.workers,
        "build_seconds": round(build_seconds, 1),
        "bare": {**bare, "requests_per_s": round(bare_rps, 1)},
        "annotate": {**load, "judgments_per_s": round(judgments_per_s, 1)},
        "ratio_to_bare": round(judgments_per_s / bare_rps, 3),
        "load_average": [round(x, 2) for x in load_avg],
        "checks": check(opts.clients, load["submits"], before),
    }
    (out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    errors = load["page_errors"] + load["submit_errors"] + load["socket_errors"] + load["timeouts"]
    print(
        f"| {opts.database} | {opts.comparisons:,} | {opts.history:,} | {opts.clients} | {judgments_per_s:.1f} | "
        f"{load['p50_ms']:.0f} | {load['p99_ms']:.0f} | {errors} | {bare_rps:,.0f} | {result['ratio_to_bare']:.3f} | "
        f"{'yes' if result['checks']['ok'] else 'NO'} |"
    )
    if not result["checks"]["ok"]:
        sys.exit("the database checks failed: " + json.dumps(result["checks"]))


if __name__ == "__main__":
    main()
