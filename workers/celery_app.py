"""The worker side of the Celery app (webapp/config/celery.py): torch's thread count in every
worker process, and the background check that resumes stages whose worker died."""

from __future__ import annotations

import logging

from celery.signals import worker_init, worker_process_init, worker_ready

from webapp.config.celery import app

log = logging.getLogger(__name__)
app.autodiscover_tasks(["workers.tasks"], related_name=None)

# Every queue of webapp/config/celery.py's routes: one worker that serves them all runs a round.
QUEUES = ("default", "generate", "train")
# One process, no prefork child, no cluster chatter: what a test or a benchmark starts and stops.
SOLO = ("-P", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat")


def worker_argv(python: str, *options: str) -> list[str]:
    """The command line of a worker on every queue; the tests and the closed-loop benchmark
    start the same one (`*SOLO`), docker-compose.yml splits the queues over two services."""
    return [python, "-m", "celery", "-A", "workers", "worker", "-Q", ",".join(QUEUES), *options, "-l", "info"]


@worker_init.connect
@worker_process_init.connect
def _torch_threads(**_) -> None:
    """Every worker process (the solo pool's main process, or each prefork child) sets torch's threads."""
    from training.threads import configure_threads

    log.info("torch threads: %d", configure_threads())


@worker_ready.connect
def _start_recovery(sender=None, **_) -> None:
    """Each worker watches for dead stages itself: the documented worker command is all it takes."""
    from workers.recovery import start_recovery

    start_recovery(getattr(sender, "hostname", "") or "worker")
