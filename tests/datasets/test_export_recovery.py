"""A job whose worker died is sent again by the workers' recovery check (jobs.requeue_stalled), by
the rounds' rules: its runner's process is gone on this host, or it has been silent for
PREFLOOP_STALE_AFTER; a live one is left alone, and a delivery of a job a live runner holds does
nothing. Here the check is called directly on rows (a dead runner is a real process that exited);
tests/integration/test_export_job.py kills a real worker mid-export."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import psutil
import pytest
from django.utils import timezone

from tests import platform_factories as factories
from webapp.datasets import job_runs, jobs
from webapp.datasets.exporting import ExportSpec
from webapp.datasets.models import ExportJob
from webapp.rounds.state_machine import this_process

pytestmark = pytest.mark.django_db
Status = ExportJob.Status


@pytest.fixture
def project(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    project = factories.project_with_comparisons(3)
    factories.judge_all(project, "b")
    return project


def dead_runner() -> str:
    """The runner name of a worker process that has exited (host:pid:start time, as workers write)."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    host, _, _ = this_process().split(":")
    runner = f"{host}:{child.pid}:{psutil.Process(child.pid).create_time():.2f}"
    child.communicate(b"")
    return runner


def running(project, runner: str, seconds_ago: float = 0) -> ExportJob:
    beat = timezone.now() - timedelta(seconds=seconds_ago)
    return ExportJob.objects.create(
        project=project,
        spec=ExportSpec(fmt="trl").to_mapping(),
        status=Status.RUNNING,
        runner=runner,
        heartbeat=beat,
        started=beat,
        attempt=1,
        done=2,
        total=3,
    )


def test_a_job_whose_worker_died_is_sent_again_and_then_finishes(project, broker):
    job = running(project, dead_runner())
    queued = broker()
    assert jobs.requeue_stalled("test") == [job.pk]
    assert broker() == queued + 1  # one message for the job, on the default queue
    job.refresh_from_db()
    assert (job.status, job.runner, job.done) == (Status.QUEUED, "", 0) and job.heartbeat is not None
    assert jobs.requeue_stalled("another worker") == []  # sent once, however many checks

    finished = jobs.run_export(job.pk)
    assert finished.status == Status.DONE and finished.attempt == 2, finished.error
    assert finished.counts["judgments"] == 3 and finished.done == 3


def test_a_live_job_is_left_alone(project, broker, settings):
    mine = running(project, this_process())  # this process: alive, beating now
    elsewhere = running(project, "other-host:123:1.00", seconds_ago=settings.PREFLOOP_STALE_AFTER / 2)
    queued = broker()
    assert jobs.requeue_stalled("test") == []
    assert broker() == queued
    assert set(ExportJob.objects.values_list("status", flat=True)) == {Status.RUNNING}
    # and a delivery of a job that a live runner holds does nothing
    assert jobs.run_export(mine.pk) is None and jobs.run_export(elsewhere.pk) is None
    mine.refresh_from_db()
    assert (mine.status, mine.runner, mine.attempt, mine.done) == (Status.RUNNING, this_process(), 1, 2)


def test_a_job_silent_for_too_long_on_another_host_is_sent_again(project, broker, settings):
    job = running(project, "other-host:123:1.00", seconds_ago=settings.PREFLOOP_STALE_AFTER + 1)
    assert jobs.requeue_stalled("test") == [job.pk]
    job.refresh_from_db()
    assert job.status == Status.QUEUED
    # the old attempt, should it wake up, finds the job taken and stops writing
    with pytest.raises(jobs.Superseded):
        heartbeat = job_runs.Heartbeat(jobs.EXPORTS, job.pk, "x")
        job_runs.Progress(jobs.EXPORTS, job.pk, "other-host:123:1.00", heartbeat)(3, 3)


def test_a_job_never_sent_is_sent_once_it_is_old(project, broker, settings):
    """The web process died between saving the job and sending it: nobody else would."""
    fresh = ExportJob.objects.create(project=project, spec={"fmt": "trl"})
    old = ExportJob.objects.create(project=project, spec={"fmt": "trl"})
    sent_one = ExportJob.objects.create(project=project, spec={"fmt": "trl"}, heartbeat=timezone.now())
    long_ago = timezone.now() - timedelta(seconds=settings.PREFLOOP_STALE_AFTER + 1)
    ExportJob.objects.filter(pk__in=[old.pk, sent_one.pk]).update(created=long_ago)
    assert jobs.requeue_stalled("test") == [old.pk]  # the fresh one's own send is on its way
    assert fresh.pk not in jobs.requeue_stalled("test")
    sent_one.refresh_from_db()
    assert sent_one.status == Status.QUEUED  # waiting in the broker, which keeps it
