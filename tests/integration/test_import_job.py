"""File imports run on a real Celery worker over real Redis: the real HH-RLHF file uploaded through
`POST /api/projects/{slug}/imports`, followed through `GET .../imports/{id}` with a deadline to
done, every pair imported once. A worker killed with SIGKILL in the middle of an import's writes
(PostgreSQL: a table lock holds it at its first batch's judgments, its prompts, responses and
comparisons already inserted) wrote nothing, because the import's writes are one transaction; the
next worker's recovery check runs the job again, and it imports the file once."""

from __future__ import annotations

import os
import signal

import pytest
from django.db import connection, connections

from tests import platform_factories as factories
from tests.datasets.import_files import HH_PAIRS, hh_file, table_counts
from tests.integration.test_export_job import _require_postgres, _waits_on_a_lock, until
from webapp.annotation.models import Comparison, Judgment
from webapp.datasets import job_runs
from webapp.datasets.models import ImportJob
from webapp.projects.roles import Role

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def api(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    project = factories.make_project("hh")
    admin = factories.make_member(project, "importer", Role.ADMIN)
    return project, factories.api_client(factories.make_token(admin))


def upload_hh(client, project) -> dict:
    with open(hh_file(), "rb") as handle:
        response = client.post(
            f"/api/projects/{project.slug}/imports", {"file": handle, "kind": "preferences", "format": "hh"}
        )
    assert response.status_code == 201, response.content
    return response.json()


def followed_to_the_end(client, project, job_id: int) -> dict:
    """GET the job's status (as a client would) until it is no longer active."""

    def finished():
        status = client.get(f"/api/projects/{project.slug}/imports/{job_id}")
        assert status.status_code == 200, status.content
        body = status.json()
        return None if body["active"] else body

    return until(finished, f"import job {job_id} to end")


def assert_imported_once(project) -> None:
    assert Comparison.objects.filter(project=project, status="complete").count() == HH_PAIRS
    assert Judgment.objects.filter(source="hh:harmless-base-test.jsonl.gz").count() == HH_PAIRS
    assert table_counts() == (HH_PAIRS, 2 * HH_PAIRS, HH_PAIRS, HH_PAIRS)


def test_the_hh_file_uploaded_through_the_api_is_imported_by_a_worker(api, celery_worker_process, tmp_path):
    project, client = api
    started = upload_hh(client, project)
    assert started["status"] == "queued" and started["name"] == "harmless-base-test.jsonl.gz"
    assert started["size"] == hh_file().stat().st_size
    done = followed_to_the_end(client, project, started["id"])
    assert done["status"] == "done", done["error"]
    assert done["counts"] == {"prompts": HH_PAIRS, "comparisons": HH_PAIRS, "judgments": HH_PAIRS}
    assert (done["phase"], done["done"], done["total"], done["percent"]) == (
        "writing",
        HH_PAIRS,
        HH_PAIRS,
        100,
    )
    job = ImportJob.objects.get(pk=started["id"])
    assert job.path.startswith(str(tmp_path / "artifacts" / project.slug / "imports" / str(job.pk)))
    assert_imported_once(project)


@pytest.mark.postgres
def test_a_worker_killed_mid_write_wrote_nothing_and_the_rerun_imports_once(api, start_worker):
    _require_postgres()
    project, client = api
    blocker = connections.create_connection("default")
    with blocker.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("LOCK TABLE annotation_judgment IN ACCESS EXCLUSIVE MODE")
        first = start_worker()
        job_id = upload_hh(client, project)["id"]
        until(lambda: _waits_on_a_lock(blocker), "the import to wait on the judgments' lock")
        assert _blocked_query(blocker).startswith('INSERT INTO "annotation_judgment"')  # mid-write
        running = ImportJob.objects.get(pk=job_id)
        assert running.status == "running" and running.attempt == 1
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        cursor.execute("ROLLBACK")
    blocker.close()
    # The dead attempt's transaction never committed: its prompts, responses, comparisons are gone.
    until(lambda: not _waits_on_a_lock_any(), "the dead worker's backend to end")
    assert table_counts() == (0, 0, 0, 0)
    assert job_runs.nobody_runs(ImportJob.objects.get(pk=job_id))

    start_worker()
    done = followed_to_the_end(client, project, job_id)
    assert done["status"] == "done", done["error"]
    job = ImportJob.objects.get(pk=job_id)
    assert job.attempt == 2 and job.runner == "" and job.counts["judgments"] == HH_PAIRS
    assert_imported_once(project)


def _blocked_query(blocker) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            [blocker.connection.info.backend_pid],
        )
        return cursor.fetchone()[0]


def _waits_on_a_lock_any() -> bool:
    """Some backend of this database still runs the dead worker's INSERT."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'INSERT INTO \"annotation_judgment\"%%' AND state = 'active' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0
