"""The import page hands a file larger than PREFLOOP_IMPORT_JOB_BYTES to a worker: the POST stores
it and queues an ImportJob (imported nothing yet), the page lists the job and polls its progress
JSON (import.js) to the result, or to the line and field that stopped it. Smaller files import at
once, as tests/datasets/test_import_page.py checks."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from tests import platform_factories as factories
from tests.datasets.import_files import jsonl, table_counts
from webapp.catalog.models import Prompt
from webapp.datasets import import_jobs
from webapp.datasets.models import ImportJob
from webapp.projects.roles import Role

pytestmark = pytest.mark.django_db
PROMPTS = jsonl({"prompt": f"question number {i}?"} for i in range(50))


@pytest.fixture
def project(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.PREFLOOP_IMPORT_JOB_BYTES = 100  # the test's files are larger: each is a job
    return factories.make_project("paged")


@pytest.fixture
def client_of_admin(client, project):
    client.force_login(factories.make_member(project, "olga", Role.ADMIN))
    return client


def page(project) -> str:
    return reverse("datasets:import_prompts", kwargs={"slug": project.slug})


def progress(project, job) -> str:
    return reverse("datasets:import_progress", kwargs={"slug": project.slug, "job_id": job.pk})


def post(client, project, content: bytes, **fields):
    return client.post(
        page(project), {"file": SimpleUploadedFile("many.jsonl", content), **fields}, follow=True
    )


def test_a_large_file_becomes_a_job_the_page_follows(
    client_of_admin, project, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as sent:
        response = post(client_of_admin, project, PROMPTS)
    assert response.status_code == 200 and len(sent) == 1
    job = ImportJob.objects.get()
    assert (job.status, job.kind, job.name, job.size) == ("queued", "prompts", "many.jsonl", len(PROMPTS))
    assert Prompt.objects.count() == 0  # the worker imports it, not the request
    body = response.content.decode()
    assert f"Import {job.pk} of many.jsonl queued" in body
    assert f'data-progress-url="{progress(project, job)}"' in body and 'data-status="queued"' in body
    assert "import.js" in body
    assert client_of_admin.get(progress(project, job)).json()["status"] == "queued"

    import_jobs.run_import(job.pk)
    state = client_of_admin.get(progress(project, job)).json()
    assert (state["status"], state["active"], state["summary"]) == ("done", False, "50 prompts")
    assert Prompt.objects.count() == 50
    assert "imported 50 prompts" in client_of_admin.get(page(project)).content.decode()


def test_a_bad_line_in_a_large_file_fails_its_job_and_the_page_names_it(client_of_admin, project):
    post(client_of_admin, project, PROMPTS + jsonl([{"prompt": ""}]), kind="prompts")
    job = ImportJob.objects.get()
    import_jobs.run_import(job.pk)
    state = client_of_admin.get(progress(project, job)).json()
    assert state["status"] == "failed" and state["error"].startswith("line 51, field 'prompt'"), state
    assert escape(state["error"]) in client_of_admin.get(page(project)).content.decode()
    assert table_counts() == (0, 0, 0, 0)


def test_preferences_keep_their_format(client_of_admin, project):
    pairs = jsonl({"prompt": f"p{i}?", "chosen": "yes", "rejected": "no"} for i in range(10))
    post(client_of_admin, project, pairs, kind="preferences", format="trl-standard")
    job = ImportJob.objects.get()
    assert (job.kind, job.fmt) == ("preferences", "trl-standard")
    assert import_jobs.run_import(job.pk).counts == {"prompts": 10, "comparisons": 10, "judgments": 10}


def test_another_projects_job_is_not_found_here(client_of_admin, project, tmp_path):
    theirs = factories.make_import_job(factories.make_project("theirs"), tmp_path / "theirs")
    url = reverse("datasets:import_progress", kwargs={"slug": project.slug, "job_id": theirs.pk})
    assert client_of_admin.get(url).status_code == 404
