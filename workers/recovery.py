"""A worker's background thread that resumes round stages, export jobs and import jobs whose worker
died (webapp/rounds/recovery.py and the jobs' `requeue_stalled`, datasets.job_runs, decide which). It checks at once when the worker starts, so a
worker restarted after a crash picks the dead stage up within seconds."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection

from webapp.datasets import import_jobs, jobs
from webapp.rounds.recovery import resume_stalled

log = logging.getLogger(__name__)


def _loop(by: str, stop: threading.Event) -> None:
    try:
        while True:
            close_old_connections()
            for check in (resume_stalled, jobs.requeue_stalled, import_jobs.requeue_stalled):
                try:
                    check(by)
                except Exception:  # the database or broker is down for a moment: try at the next check
                    log.exception("recovery check %s.%s failed", check.__module__, check.__name__)
            if stop.wait(settings.PREFLOOP_RECOVERY_SECONDS):
                return
    finally:
        connection.close()


def start_recovery(by: str) -> threading.Event:
    """Start the check in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=_loop, args=(by, stop), daemon=True, name="prefloop-recovery").start()
    log.info(
        "recovery check every %.0f s (stages silent for %.0f s are resumed)",
        settings.PREFLOOP_RECOVERY_SECONDS,
        settings.PREFLOOP_STALE_AFTER,
    )
    return stop
