"""Fixtures of the job tests (export and import jobs' recovery)."""

from __future__ import annotations

import pytest
import redis

from tests.conftest import use_broker


@pytest.fixture
def broker(redis_url):
    """This process's Celery app on the test Redis; the length of the default queue, to count sends."""
    from webapp.config.celery import app

    before = app.conf.broker_url
    use_broker(redis_url)
    client = redis.Redis.from_url(redis_url)
    yield lambda: client.llen("default")
    client.delete("default")  # the messages sent here name this test's rows: no later worker takes them
    client.close()
    use_broker(before)
