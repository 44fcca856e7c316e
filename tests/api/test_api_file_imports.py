"""File imports through the API: `POST /api/projects/{slug}/imports` (multipart: file, kind,
format) stores the file and starts a job (sent on commit); `GET .../imports/{id}` follows it to
its counts or its `line N, field 'x'` error once `import_jobs.run_import` (the worker's task body,
run here in the test process; a real worker in tests/integration/test_import_job.py) has run."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests import platform_factories as factories
from tests.datasets.import_files import jsonl, table_counts
from webapp.datasets import import_jobs
from webapp.datasets.models import ImportJob

pytestmark = pytest.mark.django_db
PAIRS = jsonl({"prompt": f"p{i}?", "chosen": "yes", "rejected": "no"} for i in range(3))


@pytest.fixture
def setup(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    project = factories.make_project("api-files")
    admin = factories.make_member(project, "boss")
    return project, factories.api_client(factories.make_token(admin))


def upload(client, project, content: bytes, name: str = "prefs.jsonl", **fields):
    data = {"file": SimpleUploadedFile(name, content), **fields}
    return client.post(f"/api/projects/{project.slug}/imports", data)


def status(client, project, job_id: int):
    return client.get(f"/api/projects/{project.slug}/imports/{job_id}")


def test_upload_then_follow_to_the_counts(setup, django_capture_on_commit_callbacks):
    project, client = setup
    with django_capture_on_commit_callbacks() as sent:
        response = upload(client, project, PAIRS, kind="preferences", format="trl-standard")
    assert response.status_code == 201, response.content
    assert len(sent) == 1
    body = response.json()
    assert (body["status"], body["kind"], body["format"], body["name"]) == (
        "queued",
        "preferences",
        "trl-standard",
        "prefs.jsonl",
    )
    assert table_counts() == (0, 0, 0, 0)

    import_jobs.run_import(body["id"])
    done = status(client, project, body["id"]).json()
    assert (done["status"], done["active"], done["percent"]) == ("done", False, 100)
    assert done["counts"] == {"prompts": 3, "comparisons": 3, "judgments": 3}
    assert done["summary"] == "3 judged pairs (trl-standard) of 3 prompts"
    assert table_counts() == (3, 6, 3, 3)


def test_prompts_by_default(setup):
    project, client = setup
    response = upload(client, project, jsonl([{"prompt": "one?"}]), name="p.jsonl")
    assert response.status_code == 201 and response.json()["kind"] == "prompts"


def test_a_bad_line_fails_the_job_with_the_line_and_field(setup):
    project, client = setup
    bad = PAIRS + jsonl([{"prompt": "p?", "rejected": "no"}])
    job_id = upload(client, project, bad, kind="preferences", format="trl-standard").json()["id"]
    import_jobs.run_import(job_id)
    failed = status(client, project, job_id).json()
    assert failed["status"] == "failed" and failed["error"].startswith("line 4, field 'chosen'"), failed
    assert table_counts() == (0, 0, 0, 0)


def test_an_unknown_format_is_422_and_stores_nothing(setup):
    project, client = setup
    response = upload(client, project, PAIRS, kind="preferences", format="csv")
    assert response.status_code == 422 and "unknown format 'csv'" in response.json()["detail"]
    assert ImportJob.objects.count() == 0


def test_no_file_or_an_unknown_kind_is_422(setup):
    project, client = setup
    response = client.post(f"/api/projects/{project.slug}/imports", {"kind": "prompts"})
    assert response.status_code == 422 and "file" in response.json()["detail"]
    assert upload(client, project, PAIRS, kind="rounds").status_code == 422
    assert ImportJob.objects.count() == 0


def test_a_file_over_the_cap_is_413(setup, settings):
    project, client = setup
    settings.PREFLOOP_MAX_IMPORT_BYTES = 10
    response = upload(client, project, PAIRS, kind="preferences", format="trl-standard")
    assert response.status_code == 413 and "over 10 bytes" in response.json()["detail"]
    assert ImportJob.objects.count() == 0


def test_another_projects_job_is_404(setup, tmp_path):
    project, client = setup
    other = factories.make_project("other")
    theirs = factories.make_import_job(other, tmp_path / "theirs")
    assert status(client, project, theirs.pk).status_code == 404
    assert status(client, other, theirs.pk).status_code == 404  # not a member there
    assert status(client, project, 999999).status_code == 404


def test_a_file_over_the_json_bodys_limit_is_taken(setup, settings):
    """Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) caps a JSON body, not a multipart file: the
    file is streamed to disk."""
    project, client = setup
    big = jsonl({"prompt": f"question {i} " + "x" * 200 + "?"} for i in range(15000))
    assert len(big) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = upload(client, project, big, name="big.jsonl")
    assert response.status_code == 201, response.content
    assert response.json()["size"] == len(big)
    assert import_jobs.run_import(response.json()["id"]).counts["prompts"] == 15000
