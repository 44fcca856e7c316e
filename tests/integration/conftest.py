"""A real Celery worker process over real Redis, sharing the test database."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from django.db import connection

from tests.conftest import stop_process

REPO = Path(__file__).resolve().parents[2]


def database_url_for_worker() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    if connection.vendor == "postgresql":
        auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
        return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    raise RuntimeError(f"no worker URL for database vendor {connection.vendor}")


@pytest.fixture
def celery_worker_process(redis_url: str, settings, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """Start `celery -A workers worker` on all three queues; stop it after the test."""
    from workers import app

    artifacts = tmp_path / "artifacts"
    settings.ARTIFACT_ROOT = artifacts
    app.conf.broker_url = redis_url
    app.conf.result_backend = redis_url
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_worker(),
        "REDIS_URL": redis_url,
        "ARTIFACT_ROOT": str(artifacts),
        "PYTHONUNBUFFERED": "1",
    }
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", "default,generate,train",
         "-P", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        yield worker
    finally:
        stop_process(worker, timeout=30)
        log.close()
        print((tmp_path / "worker.log").read_text()[-5000:])
