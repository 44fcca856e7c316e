"""An import job's life: `start_import` streams the file under ARTIFACT_ROOT/<slug>/imports/<id>/
and sends the task once the row commits; `run_import` (the worker's task body, called here in the
test process) imports it as its kind says, with its two passes as phases, and records the counts;
a bad line fails the job with the line and field and writes nothing. A real worker runs one in
tests/integration/test_import_job.py."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404

from tests import platform_factories as factories
from tests.datasets.import_files import jsonl, table_counts
from webapp.annotation.models import Comparison, Judgment
from webapp.catalog.models import Prompt
from webapp.datasets import import_jobs, job_runs
from webapp.datasets.models import ImportJob
from webapp.datasets.readers import ImportFileError
from webapp.projects.roles import Role

pytestmark = pytest.mark.django_db
Status = ImportJob.Status


@pytest.fixture
def project(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return factories.make_project("jobs")


@pytest.fixture
def admin(project):
    return factories.make_member(project, "boss", Role.ADMIN)


def prompts(count: int) -> bytes:
    return jsonl({"prompt": f"question {i}?"} for i in range(count))


def pairs(count: int) -> bytes:
    return jsonl({"prompt": f"p{i}?", "chosen": f"yes {i}", "rejected": f"no {i}"} for i in range(count))


def test_start_stores_the_file_and_sends_once_committed(
    project, admin, tmp_path, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("big prompts.jsonl", prompts(3))
    with django_capture_on_commit_callbacks() as sent:
        job = import_jobs.start_import(project, admin, upload, upload.name, "prompts")
    assert len(sent) == 1  # the task goes to the broker once the row is committed
    job.refresh_from_db()
    assert (job.project, job.requested_by, job.status, job.kind) == (project, admin, Status.QUEUED, "prompts")
    stored = Path(job.path)
    assert stored.parent == tmp_path / "artifacts" / project.slug / "imports" / str(job.pk)
    assert (
        stored.name == "big prompts.jsonl"
        and stored.read_bytes() == prompts(3)
        and job.size == len(prompts(3))
    )
    assert Prompt.objects.count() == 0  # nothing imported until a worker runs it


def test_a_prompts_job_runs_to_done_with_counts_and_phases(project, admin):
    job = import_jobs.start_import(
        project, admin, SimpleUploadedFile("p.jsonl", prompts(2500)), "p.jsonl", "prompts"
    )
    finished = import_jobs.run_import(job.pk)
    assert finished.status == Status.DONE, finished.error
    assert finished.counts == {"prompts": 2500, "comparisons": 0, "judgments": 0}
    assert (finished.phase, finished.done, finished.total, finished.percent) == ("writing", 2500, 2500, 100)
    assert finished.attempt == 1 and finished.runner == "" and finished.finished is not None
    assert set(Prompt.objects.values_list("source", flat=True)) == {"p.jsonl"}
    assert Prompt.objects.filter(project=project).count() == 2500
    assert import_jobs.summary(finished) == "2,500 prompts"
    assert import_jobs.run_import(job.pk) is None  # a second delivery finds it done
    assert Prompt.objects.count() == 2500


def test_a_preferences_job_in_a_format(project, admin, tmp_path):
    path = tmp_path / "prefs.jsonl.gz"
    path.write_bytes(gzip.compress(pairs(3)))
    job = import_jobs.start_import(project, admin, path, path.name, "preferences", "trl-standard")
    finished = import_jobs.run_import(job.pk)
    assert finished.status == Status.DONE, finished.error
    assert finished.counts == {"prompts": 3, "comparisons": 3, "judgments": 3}
    assert set(Judgment.objects.values_list("source", flat=True)) == {"trl-standard:prefs.jsonl.gz"}
    assert import_jobs.summary(finished) == "3 judged pairs (trl-standard) of 3 prompts"


def test_a_comparisons_job(project, admin):
    rows = jsonl(
        {"prompt": "which?", "responses": [{"model": m, "text": f"by {m}"} for m in ("a", "b", "c")]}
        for _ in range(2)
    )
    job = import_jobs.start_import(
        project, admin, SimpleUploadedFile("c.jsonl", rows), "c.jsonl", "comparisons"
    )
    finished = import_jobs.run_import(job.pk)
    assert finished.status == Status.DONE, finished.error
    assert finished.counts == {"prompts": 2, "comparisons": 6, "judgments": 0}
    assert Comparison.objects.filter(status=Comparison.Status.PENDING).count() == 6


def test_a_bad_line_fails_the_job_names_it_and_writes_nothing(project, admin):
    rows = pairs(1500) + jsonl([{"prompt": "last?", "chosen": "yes"}])  # line 1501 lacks 'rejected'
    job = import_jobs.start_import(
        project, admin, SimpleUploadedFile("bad.jsonl", rows), "bad.jsonl", "preferences", "trl-standard"
    )
    finished = import_jobs.run_import(job.pk)
    assert finished.status == Status.FAILED
    assert finished.error.startswith("line 1501, field 'rejected'"), finished.error
    assert "Traceback" not in finished.error  # the input's fault: its message, no server internals
    assert finished.phase == "checking" and 1 <= finished.done <= 1500 and finished.total == 0  # throttled
    assert table_counts() == (0, 0, 0, 0)
    assert finished.counts == {}


def test_a_stored_file_gone_fails_the_job_with_the_reason(project, admin):
    job = import_jobs.start_import(
        project, admin, SimpleUploadedFile("p.jsonl", prompts(1)), "p.jsonl", "prompts"
    )
    Path(job.path).unlink()
    finished = import_jobs.run_import(job.pk)
    assert finished.status == Status.FAILED and finished.error.startswith("cannot read the file")
    assert Prompt.objects.count() == 0


def test_a_crash_keeps_its_traceback_for_staff_only(project, admin, tmp_path):
    job = factories.make_import_job(
        project, tmp_path / "job", status=Status.FAILED, error="KeyError: 'x'\n\nTraceback (most recent ...)"
    )
    staff = factories.make_user(staff=True)
    assert job_runs.error_for(staff, project, job) == job.error
    assert job_runs.error_for(admin, project, job) == "KeyError: 'x'"


def test_an_unknown_kind_or_format_is_refused_before_anything_is_stored(project, admin):
    with pytest.raises(ImportFileError, match="unknown format 'csv'"):
        import_jobs.start_import(project, admin, SimpleUploadedFile("x", b"{}"), "x", "preferences", "csv")
    with pytest.raises(ImportFileError, match="unknown kind 'rounds'"):
        import_jobs.start_import(project, admin, SimpleUploadedFile("x", b"{}"), "x", "rounds")
    assert ImportJob.objects.count() == 0


def test_another_projects_job_is_not_found(project, admin):
    job = import_jobs.start_import(
        project, admin, SimpleUploadedFile("p.jsonl", prompts(1)), "p.jsonl", "prompts"
    )
    other = factories.make_project("other")
    other_admin = factories.make_member(other, "other-boss", Role.ADMIN)
    assert import_jobs.job_for(admin, project, job.pk) == job
    with pytest.raises(Http404):
        import_jobs.job_for(other_admin, other, job.pk)


def test_a_file_name_cannot_leave_the_jobs_directory(project, admin):
    job = import_jobs.start_import(
        project, admin, SimpleUploadedFile("x", prompts(1)), "../../etc/passwd", "prompts"
    )
    assert Path(job.path).parent == import_jobs.import_dir(job) and Path(job.path).name == "passwd"


def test_the_progress_callback_changes_nothing_of_the_import(project):
    """The `progress` parameter only listens: the same rows with and without it."""
    from webapp.datasets import imports

    heard = []
    count = imports.import_prompt_file(
        project,
        SimpleUploadedFile("a.jsonl", prompts(1001)),
        "a.jsonl",
        progress=lambda done, total, phase: heard.append((phase, done, total)),
    )
    assert count == 1001 and Prompt.objects.count() == 1001
    assert heard[0] == ("checking", 1, 0) and heard[1000] == ("checking", 1001, 0)
    assert heard[1001:] == [("writing", 1000, 1001), ("writing", 1001, 1001)]
    assert imports.import_prompt_file(project, SimpleUploadedFile("b.jsonl", prompts(2)), "b.jsonl") == 2
