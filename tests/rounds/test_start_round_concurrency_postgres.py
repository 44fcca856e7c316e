"""Admins pressing "start round" for one project at the same instant on real PostgreSQL: one
round starts, every other press is refused with the reason, and none is half-created.

Threads start together at a barrier (no sleeps), each with its own connection; the project row
lock in `start_round` serialises them. Skipped with the reason on another database.
"""

from __future__ import annotations

import pytest

from tests.annotation.test_queue_concurrency_postgres import _in_threads, _require_postgres
from tests.conftest import use_broker
from tests.platform_factories import judge_all, project_with_comparisons
from webapp.config.celery import app
from webapp.rounds import services
from webapp.rounds.models import TrainingRound

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PRESSES = 8


@pytest.fixture
def broker(redis_url):
    """The real Redis; the round's messages are purged afterwards (no worker runs here)."""
    use_broker(redis_url)
    yield
    with app.connection_for_write() as conn:
        for queue in ("default", "generate", "train"):
            conn.default_channel.queue_purge(queue)


def test_simultaneous_starts_make_one_round(broker):
    _require_postgres()
    project = project_with_comparisons(4)
    project.training_config = {"round": {"min_pairs": 2}}
    project.save()
    judge_all(project)
    started: list[int] = []
    refused: list[str] = []

    def press() -> None:
        try:
            started.append(services.start_round(project).number)
        except services.RoundError as exc:
            refused.append(str(exc))

    errors = _in_threads(press, [()] * PRESSES)
    assert not errors, errors
    assert started == [1]
    assert len(refused) == PRESSES - 1 and all(r.startswith("round 1 is still ") for r in refused)
    assert TrainingRound.objects.filter(project=project).count() == 1
