"""The Celery app, configured from Django settings (CELERY_* names) and three queues.

default: light work (snapshot, deploy); generate: inference; train: GPU work, one at a time
(run that worker with --concurrency 1).
"""
from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.config.settings")

app = Celery("prefloop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_default_queue="default",
    task_routes={
        "workers.tasks.reward.*": {"queue": "train"},
        "workers.tasks.policy.*": {"queue": "train"},
        "workers.tasks.evaluate.*": {"queue": "train"},
        "workers.tasks.generate.*": {"queue": "generate"},
    },
    task_acks_late=True,  # a worker that dies mid-stage leaves the message for another
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,  # long tasks: never hoard messages
    broker_connection_retry_on_startup=True,
    task_track_started=True,
)
app.autodiscover_tasks(["workers.tasks"], related_name=None)


@worker_init.connect
@worker_process_init.connect
def _torch_threads(**_) -> None:
    """Every worker process (the solo pool's main process, or each prefork child) sets torch's threads."""
    import logging

    from training.threads import configure_threads

    logging.getLogger(__name__).info("torch threads: %d", configure_threads())
