"""An import job whose worker died is sent again by the workers' recovery check
(import_jobs.requeue_stalled, the export jobs' rules from job_runs) and then imports the file once;
a live one is left alone. Re-running is safe because a dead attempt's writes were one transaction
that never committed: tests/integration/test_import_job.py kills a real worker mid-write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests import platform_factories as factories
from tests.datasets.import_files import jsonl
from tests.datasets.test_export_recovery import dead_runner
from webapp.catalog.models import Prompt
from webapp.datasets import import_jobs, jobs
from webapp.datasets.models import ImportJob
from webapp.rounds.state_machine import this_process

pytestmark = pytest.mark.django_db
Status = ImportJob.Status


@pytest.fixture
def project(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return factories.make_project("recover")


def running(project, runner: str, seconds_ago: float = 0) -> ImportJob:
    upload = SimpleUploadedFile("p.jsonl", jsonl({"prompt": f"q{i}?"} for i in range(5)))
    job = import_jobs.start_import(project, None, upload, upload.name, "prompts")
    beat = timezone.now() - timedelta(seconds=seconds_ago)
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.RUNNING, runner=runner, heartbeat=beat, started=beat, attempt=1, phase="writing", done=2
    )
    return ImportJob.objects.get(pk=job.pk)


def test_a_job_whose_worker_died_is_sent_again_and_imports_once(project, broker):
    job = running(project, dead_runner())
    queued = broker()
    assert import_jobs.requeue_stalled("test") == [job.pk]
    assert broker() == queued + 1  # one message, on the default queue
    assert jobs.requeue_stalled("test") == []  # the export jobs' check leaves import jobs alone
    job.refresh_from_db()
    assert (job.status, job.runner, job.done) == (Status.QUEUED, "", 0)
    assert import_jobs.requeue_stalled("another worker") == []  # sent once, however many checks

    finished = import_jobs.run_import(job.pk)
    assert finished.status == Status.DONE and finished.attempt == 2, finished.error
    assert finished.counts["prompts"] == 5 and Prompt.objects.count() == 5


def test_a_live_job_is_left_alone(project, broker, settings):
    mine = running(project, this_process())
    elsewhere = running(project, "other-host:123:1.00", seconds_ago=settings.PREFLOOP_STALE_AFTER / 2)
    queued = broker()
    assert import_jobs.requeue_stalled("test") == []
    assert broker() == queued
    assert import_jobs.run_import(mine.pk) is None and import_jobs.run_import(elsewhere.pk) is None
    assert Prompt.objects.count() == 0


def test_a_job_never_sent_is_sent_once_it_is_old(project, broker, settings):
    upload = SimpleUploadedFile("p.jsonl", jsonl([{"prompt": "q?"}]))
    job = import_jobs.start_import(project, None, upload, upload.name, "prompts")  # on_commit never ran
    assert import_jobs.requeue_stalled("test") == []  # just made: its own send is on its way
    long_ago = timezone.now() - timedelta(seconds=settings.PREFLOOP_STALE_AFTER + 1)
    ImportJob.objects.filter(pk=job.pk).update(created=long_ago)
    assert import_jobs.requeue_stalled("test") == [job.pk]
