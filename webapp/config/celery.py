"""The Celery app: configured from Django settings (CELERY_* names), three queues, and the
settings long stages need. The web process sends tasks by name through it (rounds/dispatch.py)
and never imports a task module; `workers` registers the tasks on the same app.

default: light work (snapshot, deploy, web export jobs); generate: inference; train: GPU work, one at a time
(run that worker with --concurrency 1).
"""

from __future__ import annotations

import os

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.config.settings")

app = Celery("prefloop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_default_queue="default",
    task_routes={
        "workers.tasks.sft.*": {"queue": "train"},
        "workers.tasks.reward.*": {"queue": "train"},
        "workers.tasks.policy.*": {"queue": "train"},
        "workers.tasks.evaluate.*": {"queue": "train"},
        "workers.tasks.generate.*": {"queue": "generate"},
        # Web export jobs: database to file, no model; beside snapshot and deploy.
        "workers.tasks.export.*": {"queue": "default"},
        "workers.tasks.imports.*": {"queue": "default"},  # file imports: file to database, likewise
    },
    # Late acks: a stage's message is acknowledged when the stage ends, so a worker that dies in
    # the middle leaves it in the broker; a killed prefork child's message is requeued at once.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # Prefetch one: a worker busy with a 30-minute stage must not hold the next round's messages.
    worker_prefetch_multiplier=1,
    broker_transport_options={
        # Redis redelivers an unacknowledged message after this; above the longest stage, or a
        # slow stage would be handed to a second worker while the first still runs it.
        "visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT,
        # A broker that is down fails a send within seconds (the page says so) instead of hanging.
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
    },
    task_publish_retry_policy={
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.5,
        "interval_max": 1,
    },
    broker_connection_retry_on_startup=True,
    task_track_started=True,
)
