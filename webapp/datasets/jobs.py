"""Exports as background jobs: the page starts one, a worker writes it, the page follows it.

`start_export` saves an ExportJob and sends `workers.tasks.export.run_export_job` by name once the
transaction commits (the web process imports no task, as rounds/dispatch.py). `run_export` is the
task's body: it claims the job, writes the file under ARTIFACT_ROOT/<slug>/exports/<job id>/ with
`exporting.export`, and records progress, counts and the outcome on the row.

A worker killed mid-export leaves its job "running" with a runner that is gone: every worker's
recovery check (workers/recovery.py) calls `requeue_stalled`, which sends such a job again, by
the same rules as round stages (the runner's process is gone on this host, or it has been silent
for PREFLOOP_STALE_AFTER). A job is claimed under a row lock, so a duplicate delivery (Celery's
redelivery of the dead worker's message, a resend) finds it done, or running, and does nothing.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import traceback
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from kombu.utils.url import maybe_sanitize_url

from webapp.datasets import services
from webapp.datasets.models import ExportJob
from webapp.projects.models import Project
from webapp.projects.permissions import allowed, can_export
from webapp.rounds.state_machine import runner_gone, stale_before, this_process

log = logging.getLogger(__name__)
Status = ExportJob.Status
TASK = "workers.tasks.export.run_export_job"
PROGRESS_EVERY_S = 0.5  # at most two progress UPDATEs a second


class Superseded(Exception):
    """Another attempt took the job over (recovery judged this one dead): stop writing."""


def start_export(project: Project, user, spec) -> ExportJob:
    """Save a queued job for `spec` (an exporting.ExportSpec) and send it once the transaction
    commits. A broker that cannot be reached fails the job at once, with the reason."""
    job = ExportJob.objects.create(
        project=project,
        requested_by=user if user is not None and user.is_authenticated else None,
        spec=spec.to_mapping(),
    )
    job_id = job.pk
    transaction.on_commit(lambda: _send_or_fail(job_id))
    return job


def send(job_id: int) -> None:
    """Send the job's task; raises when the broker is down (kombu's or redis's error)."""
    from webapp.config.celery import app

    app.send_task(TASK, args=(job_id,))


def _send_or_fail(job_id: int) -> None:
    try:
        send(job_id)
    except Exception as exc:  # kombu raises OperationalError, redis ConnectionError, ... by transport
        from webapp.config.celery import app

        where = maybe_sanitize_url(app.conf.broker_url)  # no password in a message people read
        ExportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
            status=Status.FAILED,
            error=f"Not sent to the workers: the task queue ({where}) could not be reached: {exc}",
            finished=timezone.now(),
        )
        return
    ExportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(heartbeat=timezone.now())


def job_for(user, project: Project, job_id: int) -> ExportJob:
    """The project's job `job_id` for a user who may export it; 404 for another project's job."""
    allowed(user, project, can_export)
    return get_object_or_404(ExportJob.objects.select_related("project"), project=project, pk=job_id)


def recent_jobs(project: Project, limit: int = 10) -> list[ExportJob]:
    return list(ExportJob.objects.filter(project=project).select_related("requested_by")[:limit])


def export_dir(job: ExportJob) -> Path:
    return Path(settings.ARTIFACT_ROOT) / job.project.slug / "exports" / str(job.pk)


def nobody_runs(job: ExportJob) -> bool:
    """A running job's worker is gone (this host), or it has been silent for PREFLOOP_STALE_AFTER."""
    if not job.runner:
        return True
    return runner_gone(job.runner) or job.heartbeat is None or job.heartbeat < stale_before()


def _claim(job_id: int, runner: str) -> ExportJob | None:
    """Mark the job running by `runner`; None when it must not run (finished, or live elsewhere)."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in ExportJob.FINISHED:
            return None
        if job.status == Status.RUNNING and not nobody_runs(job):
            return None
        now = timezone.now()
        job.status, job.runner, job.heartbeat = Status.RUNNING, runner, now
        job.started = job.started or now
        job.attempt += 1
        job.done = job.total = 0
        job.save(update_fields=["status", "runner", "heartbeat", "started", "attempt", "done", "total"])
    job.project = Project.objects.get(pk=job.project_id)
    return job


class _Heartbeat(threading.Thread):
    """Beats every PREFLOOP_HEARTBEAT_SECONDS while the export runs: a slow phase (the first query,
    zipping) is not silence. `lost` is set when another attempt took the job over."""

    def __init__(self, job_id: int, runner: str) -> None:
        super().__init__(daemon=True, name=f"heartbeat-export-{job_id}")
        self.job_id, self.runner = job_id, runner
        self.done, self.lost = threading.Event(), threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(settings.PREFLOOP_HEARTBEAT_SECONDS):
                try:
                    if not _mine(self.job_id, self.runner).update(heartbeat=timezone.now()):
                        self.lost.set()
                except Exception:  # a database hiccup must not end the beat
                    log.exception("export job %s: heartbeat failed", self.job_id)
        finally:
            connection.close()


def _mine(job_id: int, runner: str):
    return ExportJob.objects.filter(pk=job_id, runner=runner, status=Status.RUNNING)


class _Progress:
    """The engine's progress callback: one UPDATE of done/total at most every PROGRESS_EVERY_S."""

    def __init__(self, job_id: int, runner: str, heartbeat: _Heartbeat) -> None:
        self.job_id, self.runner, self.heartbeat = job_id, runner, heartbeat
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if self.heartbeat.lost.is_set():
            raise Superseded(f"export job {self.job_id} was taken over")
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY_S and done < total:
            return
        self._last = now
        if not _mine(self.job_id, self.runner).update(done=done, total=total, heartbeat=timezone.now()):
            raise Superseded(f"export job {self.job_id} was taken over")


def first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:500]


def run_export(job_id: int) -> ExportJob | None:
    """Write the job's export (the task's body). Returns the job as it ended, or None when this
    delivery had nothing to do. A failure is recorded on the job, not raised: the page shows it."""
    from webapp.datasets import exporting

    runner = this_process()
    job = _claim(job_id, runner)
    if job is None:
        log.info("export job %s: nothing to do (finished, gone, or running elsewhere)", job_id)
        return None
    log.info("export job %s: %s (attempt %d)", job_id, job.spec, job.attempt)
    heartbeat = _Heartbeat(job_id, runner)
    heartbeat.start()
    try:
        spec = exporting.ExportSpec.from_mapping(job.spec)
        directory = export_dir(job)
        if directory.exists():  # a dead attempt's half-written files
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        result = exporting.export(
            job.project,
            spec,
            directory / services.export_filename(job.project, spec.fmt),
            archive=spec.fmt == "hf",  # a directory is downloaded as one .zip
            progress=_Progress(job_id, runner, heartbeat),
        )
    except Superseded as exc:
        log.warning("%s; this attempt stops", exc)
        return None
    except Exception as exc:
        log.exception("export job %s failed", job_id)
        _mine(job_id, runner).update(
            status=Status.FAILED,
            error=f"{first_line(exc)}\n\n{traceback.format_exc()}",
            runner="",
            finished=timezone.now(),
        )
    else:
        judgments = int(result.counts.get("judgments", 0))
        _mine(job_id, runner).update(
            status=Status.DONE,
            path=str(result.path),
            card=str(result.card),
            counts=result.counts,
            done=judgments,
            total=judgments,
            runner="",
            finished=timezone.now(),
        )
    finally:
        heartbeat.done.set()
        heartbeat.join()
    return ExportJob.objects.get(pk=job_id)


def requeue_stalled(by: str) -> list[int]:
    """Send again every job whose worker died (running, nobody runs it) and every queued job that
    was never sent (the web process died between commit and send); the ids sent. Each job is
    taken by one conditional UPDATE, so of several workers' checks one sends it, once."""
    sent = []
    for job in ExportJob.objects.filter(status=Status.RUNNING).only("pk", "runner", "heartbeat"):
        if nobody_runs(job):
            taken = ExportJob.objects.filter(
                pk=job.pk, status=Status.RUNNING, runner=job.runner, heartbeat=job.heartbeat
            ).update(status=Status.QUEUED, runner="", heartbeat=None, done=0)
            if taken:
                log.warning(
                    "export job %s: its worker is gone (was %r); sending it again", job.pk, job.runner
                )
    unsent = ExportJob.objects.filter(status=Status.QUEUED, heartbeat__isnull=True)
    for job_id in unsent.values_list("pk", flat=True):
        job = ExportJob.objects.filter(pk=job_id).only("created", "attempt").first()
        if job is None or (job.attempt == 0 and job.created >= stale_before()):
            continue  # just created: its own send on commit is on its way
        if not ExportJob.objects.filter(pk=job_id, status=Status.QUEUED, heartbeat__isnull=True).update(
            heartbeat=timezone.now()
        ):
            continue  # another worker's check took it
        try:
            send(job_id)
        except Exception as exc:
            log.error("export job %s: could not send it again: %s (next check retries)", job_id, exc)
            ExportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(heartbeat=None)
            continue
        log.info("export job %s sent again by %s", job_id, by)
        sent.append(job_id)
    return sent
