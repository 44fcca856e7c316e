"""Export at scale: `manage.py export_preferences --format trl` against a plain streaming script.

    python -m benchmarks.export_scale [--sizes 100000,300000,1000000] [--database sqlite|postgres]

For each size (judgments) it grows one throwaway database to that many judgments with bulk SQL
(50 annotators, two judgments per comparison, ten comparisons per prompt, about 1 KB of text per
pair, 42% A, 42% B, 10% ties, 6% both bad), then runs, each in its own process:

* the command, as a user runs it (progress bar on stderr);
* the baseline: a plain sqlite3 / psycopg cursor over the same join, json.dumps per row, writing
  the same TRL rows (what the issue measured at 40 s for 1M on SQLite);

and reports wall seconds and peak RSS (os.wait4 on each child) and the ratio to the baseline.
The database is dropped at the end. PostgreSQL: `BENCH_POSTGRES_URL` (default
postgres://postgres@127.0.0.1:5432), database prefloop_export_bench. `touch /tmp/bench.lock`
while it runs tells the others sharing the machine to pause their tests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_DB = "prefloop_export_bench"
ANNOTATORS = 50
OVERLAP = 2
COMPARISONS_PER_PROMPT = 10
CHOICES = ["a"] * 42 + ["b"] * 42 + ["tie"] * 10 + ["both_bad"] * 6
WORDS = (
    "the a model answer question because which policy reward human prefer longer shorter clear "
    "helpful honest harmless explain step first then finally result value data train round "
    "compare response prompt example careful detail simple reason correct wrong maybe"
).split()


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(WORDS, k=words))


# ---------------------------------------------------------------------------------------------
# Building the rows (inside a Django process pointed at the throwaway database)


def populate(start: int, stop: int) -> None:
    """Grow the database from `start` to `stop` judgments (ids start+1 .. stop)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.config.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from webapp.catalog.models import PolicyVersion
    from webapp.projects.models import Project

    rng = random.Random(start)
    now = datetime.now(timezone.utc)
    if connection.vendor == "sqlite":  # as Django stores it there: naive UTC text
        now = now.replace(tzinfo=None).isoformat(" ")
    if start == 0:
        project = Project.objects.create(name="Bench", slug="bench")
        policy = PolicyVersion.objects.create(
            project=project, number=0, checkpoint="/none", base_model="tiny"
        )
        get_user_model().objects.bulk_create(
            [get_user_model()(username=f"annotator{i}", password="!") for i in range(ANNOTATORS)]
        )
    project = Project.objects.get(slug="bench")
    policy = PolicyVersion.objects.get(project=project, number=0)
    users = list(get_user_model().objects.order_by("id").values_list("id", flat=True))
    c0, c1 = start // OVERLAP, stop // OVERLAP  # comparisons
    p0 = c0 // COMPARISONS_PER_PROMPT
    p1 = -(-c1 // COMPARISONS_PER_PROMPT)
    prompts = [
        (
            pid + 1,
            project.pk,
            json.dumps([{"role": "user", "content": f"Question {pid}: " + _text(rng, 45)}]),
            "",
            "train",
            "{}",
            now,
        )
        for pid in range(p0, p1)
        if pid * COMPARISONS_PER_PROMPT >= c0
    ]
    responses, comparisons, judgments = [], [], []
    for cid in range(c0, c1):
        pid = cid // COMPARISONS_PER_PROMPT + 1
        ra, rb = 2 * cid + 1, 2 * cid + 2
        responses.append((ra, pid, policy.pk, _text(rng, 55), "{}", 0, True, now))
        responses.append((rb, pid, policy.pk, _text(rng, 55), "{}", 0, True, now))
        comparisons.append((cid + 1, project.pk, None, pid, ra, rb, OVERLAP, "complete", OVERLAP, 0, now))
        for k, user in enumerate(rng.sample(users, OVERLAP)):
            jid = cid * OVERLAP + k + 1
            judgments.append((jid, cid + 1, user, rng.choice(CHOICES), rng.randint(1, 3), "", 3.5, "", now))
    tables = [
        ("catalog_prompt", "id, project_id, conversation, source, split, metadata, created", prompts),
        (
            "catalog_response",
            "id, prompt_id, policy_id, text, generation, token_count, finished, created",
            responses,
        ),
        (
            "annotation_comparison",
            "id, project_id, round_id, prompt_id, response_a_id, response_b_id, judgments_needed, "
            "status, judged, leased, created",
            comparisons,
        ),
        (
            "annotation_judgment",
            "id, comparison_id, annotator_id, choice, strength, reason, seconds_spent, source, created",
            judgments,
        ),
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for table, columns, rows in tables:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(rows[0])) if rows else ""
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        if connection.vendor == "postgresql":
            for table, _, _ in tables:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
        else:  # fold the write-ahead log into the file, as a settled database has it
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# ---------------------------------------------------------------------------------------------
# The baseline: what anyone would write with a cursor and json.dumps

BASELINE_SQL = """
SELECT j.id, j.choice, j.strength, j.reason, j.annotator_id, c.id, c.prompt_id, p.conversation,
       ra.text, rb.text
FROM annotation_judgment j
JOIN annotation_comparison c ON c.id = j.comparison_id
JOIN catalog_prompt p ON p.id = c.prompt_id
JOIN catalog_response ra ON ra.id = c.response_a_id
JOIN catalog_response rb ON rb.id = c.response_b_id
WHERE c.project_id = (SELECT id FROM projects_project WHERE slug = 'bench')
  AND j.choice IN ('a', 'b')
ORDER BY j.id
"""
MARGINS = {1: 0.0, 2: 0.5, 3: 1.0}


def baseline(url: str, out: str) -> None:
    if url.startswith("sqlite"):
        import sqlite3

        db = sqlite3.connect(url.split("///", 1)[1])
        cursor = db.execute(BASELINE_SQL)
    else:
        import psycopg

        db = psycopg.connect(url)
        cursor = db.cursor(name="baseline")  # server-side: streamed
        cursor.itersize = 10_000
        cursor.execute(BASELINE_SQL)
    with open(out, "w", encoding="utf-8") as handle:
        for jid, choice, strength, reason, annotator, cid, pid, conversation, a, b in cursor:
            chosen, rejected = (a, b) if choice == "a" else (b, a)
            if isinstance(conversation, str):
                conversation = json.loads(conversation)
            row = {
                "prompt": [{"role": m["role"], "content": m["content"]} for m in conversation],
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}],
                "margin": MARGINS[strength],
                "strength": strength,
                "metadata": {
                    "comparison_id": cid,
                    "judgment_id": jid,
                    "annotator_id": annotator,
                    "prompt_id": pid,
                    "reason": reason,
                },
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# Measuring


def measure(argv: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process; fails loudly when it fails."""
    with open(log, "w") as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=err, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({child.returncode}):\n{log.read_text()[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def settle(most: float = 60.0) -> None:
    """Wait (at most `most` seconds) for the building's load to pass: the 1-minute load average
    under 1.5 on this 2-core machine."""
    deadline = time.monotonic() + most
    while os.getloadavg()[0] > 1.5 and time.monotonic() < deadline:
        time.sleep(2)


def _pg_admin(base: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as db:
        db.execute(sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--populate", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.populate:
        return populate(*args.populate)
    if args.baseline:
        return baseline(*args.baseline)

    sizes = sorted(int(s) for s in args.sizes.split(","))
    work = Path(tempfile.mkdtemp(prefix="prefloop-export-bench-"))
    if args.database == "sqlite":
        url = f"sqlite:///{work / 'bench.sqlite3'}"
    else:
        base = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
        _pg_admin(base, f"DROP DATABASE IF EXISTS {PG_DB}")
        _pg_admin(base, f"CREATE DATABASE {PG_DB}")
        url = f"{base}/{PG_DB}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "export-benchmark-key-not-secret",
        "PREFLOOP_VAR": str(work / "var"),
    }
    env.pop("DEBUG", None)  # DEBUG keeps every query's SQL in memory
    python = sys.executable
    results = []
    try:
        subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        have = 0
        for size in sizes:
            started = time.perf_counter()
            subprocess.run(
                [python, "-m", "benchmarks.export_scale", "--populate", str(have), str(size)],
                cwd=ROOT,
                env=env,
                check=True,
            )
            have = size
            built = time.perf_counter() - started
            settle()
            out = work / f"export-{size}.jsonl"
            wall, rss = measure(
                [
                    python,
                    "manage.py",
                    "export_preferences",
                    "--project",
                    "bench",
                    "--format",
                    "trl",
                    "--out",
                    str(out),
                ],
                env,
                work / "export.log",
            )
            records = sum(1 for _ in open(out, "rb"))
            megabytes = out.stat().st_size / 1e6
            base_out = work / f"baseline-{size}.jsonl"
            base_wall, base_rss = measure(
                [python, "-m", "benchmarks.export_scale", "--baseline", url, str(base_out)],
                env,
                work / "baseline.log",
            )
            baseline_records = sum(1 for _ in open(base_out, "rb"))
            if baseline_records != records:
                raise SystemExit(f"the baseline wrote {baseline_records} records, the command {records}")
            out.unlink()
            base_out.unlink()
            row = {
                "judgments": size,
                "records": records,
                "file_mb": round(megabytes),
                "seconds": round(wall, 1),
                "peak_mb": round(rss),
                "baseline_seconds": round(base_wall, 1),
                "baseline_peak_mb": round(base_rss),
                "time_ratio": round(wall / base_wall, 2),
                "memory_ratio": round(rss / base_rss, 2),
                "build_seconds": round(built, 1),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if args.database == "postgres":
            _pg_admin(base, f"DROP DATABASE IF EXISTS {PG_DB}")
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.database}, load average (1 / 5 min) {os.getloadavg()[0]:.2f} / {os.getloadavg()[1]:.2f}")
    print(
        "| judgments | records | TRL file | command | peak memory | baseline | baseline memory | time ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['judgments']:,} | {r['records']:,} | {r['file_mb']} MB | {r['seconds']} s | {r['peak_mb']} MB "
            f"| {r['baseline_seconds']} s | {r['baseline_peak_mb']} MB | {r['time_ratio']} |"
        )


if __name__ == "__main__":
    main()
