"""The export page starts a job; `jobs.run_export` (the worker's task body, called here in the test
process) writes it under ARTIFACT_ROOT/<slug>/exports/<id>/; the progress JSON, the downloads and
a failure follow from the row. A real worker runs it in tests/integration/test_export_job.py."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests import platform_factories as factories
from webapp.datasets import jobs
from webapp.datasets.exporting import ExportSpec
from webapp.datasets.models import ExportJob
from webapp.projects.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    project = factories.project_with_comparisons(4)
    factories.judge_all(project, "a", username="alice", strength=3)
    return project


@pytest.fixture
def admin(project):
    return factories.make_member(project, "boss", Role.ADMIN)


def _page(project) -> str:
    return reverse("datasets:export", args=[project.slug])


def _url(name: str, job: ExportJob) -> str:
    return reverse(f"datasets:{name}", args=[job.project.slug, job.pk])


def test_post_queues_a_job_and_the_worker_body_writes_it(
    client, project, admin, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    with django_capture_on_commit_callbacks() as sent:
        response = client.post(_page(project), {"fmt": "trl", "aggregation": "all"})
    assert response.status_code == 302 and response["Location"] == _page(project)
    job = ExportJob.objects.get()
    assert (job.project, job.requested_by, job.status) == (project, admin, ExportJob.Status.QUEUED)
    assert ExportSpec.from_mapping(job.spec).fmt == "trl"
    assert len(sent) == 1  # the task goes to the broker once the job's row is committed

    progress = client.get(_url("export_progress", job)).json()
    assert progress["status"] == "queued" and progress["download"] is None and progress["active"]

    finished = jobs.run_export(job.pk)
    assert finished.status == ExportJob.Status.DONE, finished.error
    directory = project_dir = jobs.export_dir(finished)
    assert project_dir.parent.name == "exports" and directory.name == str(job.pk)
    assert finished.path.startswith(str(directory)) and finished.card.startswith(str(directory))
    assert finished.counts["judgments"] == 4 and finished.done == finished.total == 4
    assert finished.runner == "" and finished.started <= finished.finished

    progress = client.get(_url("export_progress", job)).json()
    assert set(progress) == {
        "id",
        "status",
        "active",
        "done",
        "total",
        "percent",
        "counts",
        "error",
        "download",
        "card",
    }
    assert (progress["status"], progress["active"], progress["percent"], progress["error"]) == (
        "done",
        False,
        100,
        "",
    )
    assert progress["download"] == _url("export_download", job) and progress["card"] == _url(
        "export_card", job
    )

    download = client.get(progress["download"])
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    rows = [json.loads(line) for line in b"".join(download.streaming_content).decode().splitlines()]
    assert len(rows) == 4 and rows[0]["chosen"] == [{"role": "assistant", "content": "short 0"}]
    card = client.get(progress["card"])
    assert card.status_code == 200 and card["Content-Type"].startswith("text/markdown")
    assert b"".join(card.streaming_content).startswith(b"---\n")

    page = client.get(_page(project)).content.decode()
    assert f'href="{progress["download"]}"' in page and f'href="{progress["card"]}"' in page


def test_a_second_delivery_of_a_finished_job_does_nothing(project, admin):
    job = jobs.start_export(project, admin, ExportSpec(fmt="trl"))
    first = jobs.run_export(job.pk)
    assert first.status == ExportJob.Status.DONE
    assert jobs.run_export(job.pk) is None  # Celery's redelivery, a resend: already done
    again = ExportJob.objects.get(pk=job.pk)
    assert (again.attempt, again.finished, again.path) == (1, first.finished, first.path)


def test_hf_is_downloaded_as_one_zip(client, project, admin):
    client.force_login(admin)
    job = jobs.start_export(project, admin, ExportSpec(fmt="hf"))
    assert jobs.run_export(job.pk).status == ExportJob.Status.DONE
    download = client.get(_url("export_download", job))
    assert download.status_code == 200 and download["Content-Disposition"].endswith('.zip"')
    assert b"".join(download.streaming_content)[:2] == b"PK"


def test_a_bad_field_is_named_and_starts_nothing(client, project, admin):
    client.force_login(admin)
    response = client.post(_page(project), {"fmt": "csv", "aggregation": "all"})
    assert response.status_code == 400
    assert "Nothing was exported" in response.content.decode() and "fmt" in response.content.decode()
    response = client.post(_page(project), {"fmt": "trl", "aggregation": "most"})
    assert response.status_code == 400 and "aggregation" in response.content.decode()
    response = client.post(_page(project), {"fmt": "trl", "aggregation": "all", "rounds": "1, two"})
    assert response.status_code == 400 and "rounds" in response.content.decode()
    assert not ExportJob.objects.exists()


def test_the_form_fields_become_the_spec(client, project, admin):
    client.force_login(admin)
    factories.make_round(project, 1)
    factories.make_round(project, 3)
    client.post(
        _page(project),
        {"fmt": "parquet", "aggregation": "majority", "rounds": "1, 3", "annotators": "alice"},
    )
    spec = ExportSpec.from_mapping(ExportJob.objects.get().spec)
    assert (spec.fmt, spec.aggregation, spec.rounds, spec.annotators) == (
        "parquet",
        "majority",
        (1, 3),
        ("alice",),
    )
    assert (spec.after, spec.before, spec.sources) == (None, None, None)


def test_an_unwritable_output_directory_fails_the_job_with_its_reason(client, project, admin, settings):
    (settings.ARTIFACT_ROOT / project.slug).mkdir(parents=True)
    (settings.ARTIFACT_ROOT / project.slug / "exports").write_text("a file where the directory goes")
    job = jobs.start_export(project, admin, ExportSpec(fmt="trl"))
    failed = jobs.run_export(job.pk)
    assert failed.status == ExportJob.Status.FAILED and failed.runner == "" and failed.finished
    first, _, traceback = failed.error.partition("\n\n")
    assert first.startswith(("NotADirectoryError", "FileExistsError")) and "exports" in first
    assert "Traceback (most recent call last)" in traceback

    client.force_login(admin)  # a project admin sees the first line, not the server's code
    progress = client.get(_url("export_progress", job)).json()
    assert (progress["status"], progress["error"], progress["download"]) == ("failed", first, None)
    assert client.get(_url("export_download", job)).status_code == 404
    page = client.get(_page(project)).content.decode()
    assert first.split(":")[0] in page and "Traceback" not in page
    client.force_login(factories.make_user(staff=True))
    assert "Traceback" in client.get(_url("export_progress", job)).json()["error"]


def test_a_broker_that_is_down_fails_the_job_at_once(
    client, project, admin, django_capture_on_commit_callbacks
):
    from tests.conftest import free_port, use_broker
    from webapp.config.celery import app

    before = app.conf.broker_url
    use_broker(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        client.force_login(admin)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(_page(project), {"fmt": "trl", "aggregation": "all"})
    finally:
        use_broker(before)
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.FAILED and job.error.startswith("Not sent to the workers")
    assert job.error.splitlines()[0] in client.get(_page(project)).content.decode()


def test_a_job_of_another_project_is_404(client, project, admin, tmp_path):
    other = factories.make_project("other")
    theirs = factories.make_export_job(other, tmp_path / "theirs")
    factories.make_member(other, "their-admin", Role.ADMIN)
    client.force_login(admin)  # admin of `project`, not of `other`
    for name in ("export_progress", "export_download", "export_card"):
        # through this project's URLs, the other project's job does not exist...
        url = reverse(f"datasets:{name}", args=[project.slug, theirs.pk])
        assert client.get(url).status_code == 404, name
        # ...and the other project's URLs refuse a non-member
        assert client.get(_url(name, theirs)).status_code == 403, name


def test_export_needs_the_permission_for_viewers(client, project, tmp_path):
    job = factories.make_export_job(project, tmp_path / "mine")
    viewer = factories.make_member(project, "vera", Role.VIEWER)
    client.force_login(viewer)
    urls = [_page(project)] + [
        _url(name, job) for name in ("export_progress", "export_download", "export_card")
    ]
    assert [client.get(url).status_code for url in urls] == [403] * 4
    assert client.post(_page(project), {"fmt": "trl"}).status_code == 403
    viewer.user_permissions.add(Permission.objects.get(codename="export_preferences"))
    client.force_login(type(viewer).objects.get(pk=viewer.pk))  # permissions are cached on the instance
    assert [client.get(url).status_code for url in urls] == [200] * 4


def test_the_page_lists_recent_jobs_in_a_fixed_number_of_queries(
    client, project, admin, tmp_path, django_assert_max_num_queries
):
    """Session, user, project with role, the counts (one aggregate), the sources, the jobs with
    their requesters: however many judgments or jobs there are."""
    jobs_made = [factories.make_export_job(project, tmp_path / str(i), requested_by=admin) for i in range(3)]
    client.force_login(admin)
    with django_assert_max_num_queries(6):
        page = client.get(_page(project))
    html = page.content.decode()
    assert page.status_code == 200 and "4 preference pairs from 4 judgments" in html
    assert html.count('data-testid="export-job"') == 3
    assert all(_url("export_progress", job) in html for job in jobs_made)
    assert "<script>" not in html and 'src="/static/export.js"' in html  # CSP: no inline script


def test_progress_is_one_small_update_at_most_every_half_second(project, admin):
    """A fast engine calls back after every chunk; the row is written at most twice a second, with
    one UPDATE of done/total/heartbeat, not a save of the whole row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from webapp.rounds.state_machine import this_process

    job = jobs.start_export(project, admin, ExportSpec(fmt="trl"))
    from webapp.datasets import job_runs

    claimed = job_runs.claim(jobs.EXPORTS, job.pk, this_process())
    heartbeat = job_runs.Heartbeat(jobs.EXPORTS, claimed.pk, claimed.runner)
    report = job_runs.Progress(jobs.EXPORTS, claimed.pk, claimed.runner, heartbeat)
    with CaptureQueriesContext(connection) as queries:
        for done in range(0, 1001):
            report(done, 1000)
    assert 2 <= len(queries) <= 3, [q["sql"] for q in queries]  # the first call, (maybe one more,) the last
    assert all(q["sql"].startswith("UPDATE") and '"spec"' not in q["sql"] for q in queries)
    job.refresh_from_db()
    assert (job.done, job.total, job.status) == (1000, 1000, ExportJob.Status.RUNNING)
