"""The export page's job runs on a real Celery worker over real Redis: started by the page's POST,
followed in the database with a deadline, downloaded, and loaded with `datasets.load_dataset`. A
worker killed with SIGKILL in the middle of an export is replaced, and the next worker's recovery
check sends the job again: it ends done, not "running" forever."""

from __future__ import annotations

import os
import signal
import time

import pytest
from datasets import load_dataset
from django.db import connection, connections
from django.urls import reverse

from tests import platform_factories as factories
from webapp.datasets import jobs
from webapp.datasets.models import ExportJob
from webapp.projects.roles import Role

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DEADLINE_S = 180


def _require_postgres() -> None:
    if connection.vendor == "postgresql":
        return
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.fail(f"DATABASE_URL names PostgreSQL but the test database is {connection.vendor}")
    pytest.skip(
        "needs PostgreSQL (a table lock holds the export in its first read while the worker is "
        f"killed); the database is {connection.vendor}, and tests/datasets/test_export_recovery.py "
        "covers the recovery rules on it"
    )


def until(condition, what: str, deadline_s: float = DEADLINE_S):
    """Follow the database until `condition()` is truthy (the worker is another process)."""
    deadline = time.monotonic() + deadline_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def finished(job_id: int) -> ExportJob | None:
    job = ExportJob.objects.get(pk=job_id)
    return None if job.is_active else job


@pytest.fixture
def project():
    """6 comparisons judged by two annotators: 12 judgments, 10 pairs (2 ties)."""
    project = factories.project_with_comparisons(6)
    factories.judge_all(project, "a", username="alice")
    bob = factories.judge_all(project, "b", username="bob")
    for judgment in bob[:2]:
        judgment.choice = "tie"
        judgment.save(update_fields=["choice"])
    return project


def start_from_the_page(client, project, **fields) -> ExportJob:
    client.force_login(factories.make_member(project, "exporter", Role.ADMIN))
    response = client.post(reverse("datasets:export", args=[project.slug]), {"aggregation": "all", **fields})
    assert response.status_code == 302
    return ExportJob.objects.get()


def download_and_load(client, job: ExportJob, tmp_path):
    progress = client.get(reverse("datasets:export_progress", args=[job.project.slug, job.pk])).json()
    assert progress["status"] == "done" and progress["percent"] == 100
    response = client.get(progress["download"])
    assert response.status_code == 200
    path = tmp_path / "downloaded.jsonl"
    path.write_bytes(b"".join(response.streaming_content))
    card = b"".join(client.get(progress["card"]).streaming_content).decode()
    assert card.startswith("---\n")
    return load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))


def test_an_export_started_on_the_page_runs_on_a_worker(client, project, celery_worker_process, tmp_path):
    job = start_from_the_page(client, project, fmt="trl")
    done = until(lambda: finished(job.pk), "the export job to end")
    assert done.status == ExportJob.Status.DONE, done.error
    assert done.counts["judgments"] == 12 and done.counts["pairs"] == 10 and done.done == done.total == 12
    assert done.path.startswith(str(tmp_path / "artifacts" / project.slug / "exports" / str(job.pk)))
    dataset = download_and_load(client, done, tmp_path)
    assert len(dataset) == 10 and {"prompt", "chosen", "rejected"} <= set(dataset.column_names)


@pytest.mark.postgres
def test_a_worker_killed_mid_export_is_replaced_and_the_job_ends_done(
    client, project, start_worker, tmp_path
):
    """The test holds an ACCESS EXCLUSIVE lock on the judgments: the worker claims the job and
    waits inside the export's first read; it is killed there, the lock let go, a new worker
    started. Its recovery check finds the job's runner gone and sends it again."""
    _require_postgres()
    blocker = connections.create_connection("default")
    with blocker.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("LOCK TABLE annotation_judgment IN ACCESS EXCLUSIVE MODE")
        first = start_worker()
        job = start_from_the_page(client, project, fmt="trl")
        running = until(
            lambda: ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).first(),
            "the first worker to claim the job",
        )
        assert running.runner and running.attempt == 1
        until(lambda: _waits_on_a_lock(blocker), "the export to wait on the judgments' lock")
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        cursor.execute("ROLLBACK")
    blocker.close()
    assert ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.RUNNING  # stuck until recovery
    assert jobs.nobody_runs(ExportJob.objects.get(pk=job.pk))

    start_worker()
    done = until(lambda: finished(job.pk), "the export job to end after the restart")
    assert done.status == ExportJob.Status.DONE and done.attempt == 2, done.error
    assert done.runner != running.runner
    files = sorted(p.name for p in jobs.export_dir(done).iterdir())
    assert files == sorted(os.path.basename(p) for p in (done.path, done.card))  # one attempt's files
    assert len(download_and_load(client, done, tmp_path)) == 10


def _waits_on_a_lock(blocker) -> bool:
    """Some other backend waits on a lock that the blocker's backend holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND %s = ANY(pg_blocking_pids(pid))",
            [blocker.connection.info.backend_pid],
        )
        return cursor.fetchone()[0] > 0
