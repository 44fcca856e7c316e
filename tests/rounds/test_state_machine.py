"""Only the state machine moves a round, one stage at a time, and stops for cancelled rounds."""
from __future__ import annotations

import pytest

from webapp.projects.models import Project
from webapp.rounds import state_machine
from webapp.rounds.models import TrainingRound

pytestmark = pytest.mark.django_db
State = TrainingRound.State


@pytest.fixture
def training_round() -> TrainingRound:
    project = Project.objects.create(name="P", slug="p")
    return TrainingRound.objects.create(project=project, number=1)


def test_walks_the_pipeline_in_order(training_round):
    for state in state_machine.PIPELINE[1:]:
        state_machine.enter(training_round.pk, state)
    training_round.refresh_from_db()
    assert training_round.state == State.DONE
    assert training_round.started is not None and training_round.finished >= training_round.started


def test_cannot_skip_a_stage(training_round):
    with pytest.raises(state_machine.InvalidTransition):
        state_machine.enter(training_round.pk, State.REWARD)
    training_round.refresh_from_db()
    assert training_round.state == State.QUEUED


def test_cannot_repeat_a_stage(training_round):
    state_machine.enter(training_round.pk, State.SNAPSHOT)
    with pytest.raises(state_machine.InvalidTransition):
        state_machine.enter(training_round.pk, State.SNAPSHOT)


def test_cancelled_round_stops_the_next_stage(training_round):
    state_machine.enter(training_round.pk, State.SNAPSHOT)
    assert state_machine.cancel(training_round.pk) is True
    with pytest.raises(state_machine.RoundStopped):
        state_machine.enter(training_round.pk, State.REWARD)
    training_round.refresh_from_db()
    assert training_round.state == State.CANCELLED


def test_fail_records_error_and_is_final(training_round):
    state_machine.enter(training_round.pk, State.SNAPSHOT)
    state_machine.fail(training_round.pk, "boom")
    state_machine.fail(training_round.pk, "second error is ignored")
    assert state_machine.cancel(training_round.pk) is False
    training_round.refresh_from_db()
    assert (training_round.state, training_round.error) == (State.FAILED, "boom")
