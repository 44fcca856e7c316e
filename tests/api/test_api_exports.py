"""Exports through the API: start a job (sent to the workers on commit), follow it, download the
file and its card once `jobs.run_export` (the worker's task body, run here in the test process;
a real worker runs it in tests/integration/test_export_job.py) has written them."""

from __future__ import annotations

import json

import pytest

from tests import platform_factories as factories
from webapp.datasets import jobs
from webapp.datasets.models import ExportJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    project = factories.project_with_comparisons(4)
    factories.judge_all(project, "a", username="alice", strength=3)
    admin = factories.make_member(project, "boss")
    return project, factories.api_client(factories.make_token(admin))


def start(client, project, spec):
    return client.post(
        f"/api/projects/{project.slug}/exports", json.dumps(spec), content_type="application/json"
    )


def test_start_follow_download(setup, django_capture_on_commit_callbacks):
    project, client = setup
    with django_capture_on_commit_callbacks() as sent:
        response = start(client, project, {"fmt": "trl", "aggregation": "majority"})
    assert response.status_code == 201, response.content
    assert len(sent) == 1  # the task goes to the broker once the job's row is committed
    body = response.json()
    assert (body["status"], body["download"], body["spec"]["aggregation"]) == ("queued", None, "majority")
    base = f"/api/projects/{project.slug}/exports/{body['id']}"
    assert client.get(f"{base}/download").status_code == 404  # not written yet

    finished = jobs.run_export(body["id"])
    assert finished.status == ExportJob.Status.DONE, finished.error
    status = client.get(base).json()
    assert status["status"] == "done" and status["percent"] == 100 and status["counts"]["pairs"] == 4
    assert status["download"] == f"{base}/download" and status["card"] == f"{base}/card"

    download = client.get(status["download"])
    assert download.status_code == 200
    data = b"".join(download.streaming_content)
    assert data == open(finished.path, "rb").read()
    rows = [json.loads(line) for line in data.decode().splitlines()]
    assert len(rows) == 4 and {"prompt", "chosen", "rejected"} <= set(rows[0])
    card = client.get(status["card"])
    assert card.status_code == 200 and card["Content-Type"].startswith("text/markdown")


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        ({"fmt": "csv"}, "field 'fmt'"),
        ({"fmt": "trl", "aggregation": "most"}, "field 'aggregation'"),
        ({"fmt": "trl", "after": "2026-12-02", "before": "2026-12-01"}, "field 'before'"),
        ({"fmt": "trl", "rounds": ["one"]}, "field 'rounds', item 1"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field_and_starts_nothing(setup, spec, detail):
    project, client = setup
    response = start(client, project, spec)
    assert response.status_code == 422, response.content
    assert response.json()["detail"].startswith(detail)
    assert not ExportJob.objects.exists()


def test_a_job_of_another_project_is_not_found(setup, tmp_path):
    project, client = setup
    other = factories.make_project("other")
    theirs = factories.make_export_job(other, tmp_path / "theirs")
    for suffix in ("", "/download", "/card"):
        assert client.get(f"/api/projects/{project.slug}/exports/{theirs.pk}{suffix}").status_code == 404
