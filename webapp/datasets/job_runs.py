"""The life of a background job, whatever it does: export jobs (datasets.jobs) and import jobs
(datasets.import_jobs) both live by these rules, each described by a `JobKind`.

A page or the API saves a queued row and `start` sends its task by name once the transaction
commits (the web process imports no task, as rounds/dispatch.py); a broker that cannot be reached
fails the job at once, with the reason. The task's body calls `run`: it claims the job under a
row lock (so a duplicate delivery finds it done, or running, and does nothing), beats while the
work runs, throttles progress to `PROGRESS_EVERY_S`, and records the outcome on the row; a
failure's first line is what everyone sees, its traceback is for staff (`error_for`).

A worker killed mid-job leaves its job "running" with a runner that is gone: every worker's
recovery check (workers/recovery.py) calls `requeue_stalled` for each kind, which sends such a job
again, by the same rules as round stages (the runner's process is gone on this host, or it has
been silent for PREFLOOP_STALE_AFTER).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from kombu.utils.url import maybe_sanitize_url

from webapp.projects.models import Project
from webapp.projects.permissions import error_for, error_summary  # noqa: F401 (the jobs' names for them)
from webapp.rounds.state_machine import runner_gone, stale_before, this_process

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.5  # at most two progress UPDATEs a second

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
FINISHED = frozenset({DONE, FAILED})


@dataclass(frozen=True)
class JobKind:
    """One kind of job: its model (with the fields ExportJob has: status, done, total, error,
    runner, heartbeat, attempt, started, finished), its task's name, and a word for the logs."""

    model: type[models.Model]
    task: str
    label: str
    # Fields set back on each claim, and on a requeue, besides done/total (an attempt's leftovers).
    reset: tuple[str, ...] = ()
    # Errors that are the input's fault (a bad line): recorded as their message alone, no traceback.
    expected: tuple[type[Exception], ...] = ()


class Superseded(Exception):
    """Another attempt took the job over (recovery judged this one dead): stop writing."""


def start(kind: JobKind, job: models.Model) -> None:
    """Send the saved job once the transaction commits (a rollback sends nothing)."""
    job_id = job.pk
    transaction.on_commit(lambda: _send_or_fail(kind, job_id))


def send(kind: JobKind, job_id: int) -> None:
    """Send the job's task; raises when the broker is down (kombu's or redis's error)."""
    from webapp.config.celery import app

    app.send_task(kind.task, args=(job_id,))


def _send_or_fail(kind: JobKind, job_id: int) -> None:
    queued = kind.model.objects.filter(pk=job_id, status=QUEUED)
    try:
        send(kind, job_id)
    except Exception as exc:  # kombu raises OperationalError, redis ConnectionError, ... by transport
        from webapp.config.celery import app

        where = maybe_sanitize_url(app.conf.broker_url)  # no password in a message people read
        queued.update(
            status=FAILED,
            error=f"Not sent to the workers: the task queue ({where}) could not be reached: {exc}",
            finished=timezone.now(),
        )
        return
    queued.update(heartbeat=timezone.now())


def first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:500]


def nobody_runs(job: models.Model) -> bool:
    """A running job's worker is gone (this host), or it has been silent for PREFLOOP_STALE_AFTER."""
    if not job.runner:
        return True
    return runner_gone(job.runner) or job.heartbeat is None or job.heartbeat < stale_before()


def mine(kind: JobKind, job_id: int, runner: str):
    """The job, while `runner` still runs it: every write of an attempt goes through this."""
    return kind.model.objects.filter(pk=job_id, runner=runner, status=RUNNING)


def claim(kind: JobKind, job_id: int, runner: str):
    """Mark the job running by `runner`; None when it must not run (finished, or live elsewhere)."""
    with transaction.atomic():
        job = kind.model.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in FINISHED:
            return None
        if job.status == RUNNING and not nobody_runs(job):
            return None
        now = timezone.now()
        job.status, job.runner, job.heartbeat = RUNNING, runner, now
        job.started = job.started or now
        job.attempt += 1
        job.done = job.total = 0
        for name in kind.reset:
            setattr(job, name, kind.model._meta.get_field(name).get_default())
        job.save(
            update_fields=[
                "status",
                "runner",
                "heartbeat",
                "started",
                "attempt",
                "done",
                "total",
                *kind.reset,
            ]
        )
    job.project = Project.objects.get(pk=job.project_id)
    return job


class Heartbeat(threading.Thread):
    """Beats every PREFLOOP_HEARTBEAT_SECONDS while the job runs: a slow phase (the first query,
    zipping, one big INSERT) is not silence. `lost` is set when another attempt took the job over."""

    def __init__(self, kind: JobKind, job_id: int, runner: str) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{kind.label}-{job_id}")
        self.kind, self.job_id, self.runner = kind, job_id, runner
        self.done, self.lost = threading.Event(), threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(settings.PREFLOOP_HEARTBEAT_SECONDS):
                try:
                    if not mine(self.kind, self.job_id, self.runner).update(heartbeat=timezone.now()):
                        self.lost.set()
                except Exception:  # a database hiccup must not end the beat
                    log.exception("%s job %s: heartbeat failed", self.kind.label, self.job_id)
        finally:
            connection.close()


class Progress:
    """The work's progress callback: one UPDATE of done/total (and any `fields`, e.g. a phase) at
    most every PROGRESS_EVERY_S; a change of `fields` and the last step are always written."""

    def __init__(self, kind: JobKind, job_id: int, runner: str, heartbeat: Heartbeat) -> None:
        self.kind, self.job_id, self.runner, self.heartbeat = kind, job_id, runner, heartbeat
        self._last = 0.0
        self._fields: dict[str, Any] = {}

    def __call__(self, done: int, total: int, **fields: Any) -> None:
        if self.heartbeat.lost.is_set():
            raise Superseded(f"{self.kind.label} job {self.job_id} was taken over")
        now = time.monotonic()
        last_step = total and done >= total  # (total 0: not known yet, as an import's first pass)
        if now - self._last < PROGRESS_EVERY_S and not last_step and fields == self._fields:
            return
        self._last, self._fields = now, fields
        if not mine(self.kind, self.job_id, self.runner).update(
            done=done, total=total, heartbeat=timezone.now(), **fields
        ):
            raise Superseded(f"{self.kind.label} job {self.job_id} was taken over")


def run(kind: JobKind, job_id: int, work: Callable[[Any, Progress], dict[str, Any]]):
    """Claim the job, run `work(job, progress)` with a heartbeat, and record the outcome: done with
    the fields `work` returns, or failed with the error (recorded, not raised: the page shows it).
    Returns the job as it ended, or None when this delivery had nothing to do."""
    runner = this_process()
    job = claim(kind, job_id, runner)
    if job is None:
        log.info("%s job %s: nothing to do (finished, gone, or running elsewhere)", kind.label, job_id)
        return None
    log.info("%s job %s: attempt %d", kind.label, job_id, job.attempt)
    heartbeat = Heartbeat(kind, job_id, runner)
    heartbeat.start()
    try:
        fields = work(job, Progress(kind, job_id, runner, heartbeat))
    except Superseded as exc:
        log.warning("%s; this attempt stops", exc)
        return None
    except kind.expected as exc:
        log.info("%s job %s refused its input: %s", kind.label, job_id, exc)
        mine(kind, job_id, runner).update(
            status=FAILED, error=str(exc)[:5000], runner="", finished=timezone.now()
        )
    except Exception as exc:
        log.exception("%s job %s failed", kind.label, job_id)
        mine(kind, job_id, runner).update(
            status=FAILED,
            error=f"{first_line(exc)}\n\n{traceback.format_exc()}",
            runner="",
            finished=timezone.now(),
        )
    else:
        mine(kind, job_id, runner).update(status=DONE, runner="", finished=timezone.now(), **fields)
    finally:
        heartbeat.done.set()
        heartbeat.join()
    return kind.model.objects.get(pk=job_id)


def requeue_stalled(kind: JobKind, by: str) -> list[int]:
    """Send again every job whose worker died (running, nobody runs it) and every queued job that
    was never sent (the web process died between commit and send); the ids sent. Each job is
    taken by one conditional UPDATE, so of several workers' checks one sends it, once."""
    objects = kind.model.objects
    sent = []
    for job in objects.filter(status=RUNNING).only("pk", "runner", "heartbeat"):
        if nobody_runs(job):
            taken = objects.filter(
                pk=job.pk, status=RUNNING, runner=job.runner, heartbeat=job.heartbeat
            ).update(status=QUEUED, runner="", heartbeat=None, done=0)
            if taken:
                log.warning(
                    "%s job %s: its worker is gone (was %r); sending it again", kind.label, job.pk, job.runner
                )
    unsent = objects.filter(status=QUEUED, heartbeat__isnull=True)
    for job_id in unsent.values_list("pk", flat=True):
        job = objects.filter(pk=job_id).only("created", "attempt").first()
        if job is None or (job.attempt == 0 and job.created >= stale_before()):
            continue  # just created: its own send on commit is on its way
        if not objects.filter(pk=job_id, status=QUEUED, heartbeat__isnull=True).update(
            heartbeat=timezone.now()
        ):
            continue  # another worker's check took it
        try:
            send(kind, job_id)
        except Exception as exc:
            log.error("%s job %s: could not send it again: %s (next check retries)", kind.label, job_id, exc)
            objects.filter(pk=job_id, status=QUEUED).update(heartbeat=None)
            continue
        log.info("%s job %s sent again by %s", kind.label, job_id, by)
        sent.append(job_id)
    return sent
