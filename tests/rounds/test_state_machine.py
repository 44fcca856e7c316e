"""Only the state machine moves a round, one stage at a time, and stops for cancelled rounds; a
stage delivered again runs only when nobody runs it (its process is gone, or it went silent)."""

from __future__ import annotations

import socket
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

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


def dead_runner() -> str:
    """The runner name of a process of this host that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return f"{socket.gethostname()}:{child.pid}:1.00"


def test_a_live_stage_is_not_run_twice(training_round):
    state_machine.enter(training_round.pk, State.SNAPSHOT)  # this process runs it, and just beat
    with pytest.raises(state_machine.StageSkipped, match="snapshot is running"):
        state_machine.enter(training_round.pk, State.SNAPSHOT, runner="other-host:1:1.00")
    training_round.refresh_from_db()
    assert training_round.attempt == 1 and training_round.runner == state_machine.this_process()


def test_a_stage_whose_process_died_runs_again_as_attempt_two(training_round):
    state_machine.enter(training_round.pk, State.SNAPSHOT)
    state_machine.enter(training_round.pk, State.SFT)
    state_machine.enter(training_round.pk, State.REWARD, runner=dead_runner())
    again = state_machine.enter(training_round.pk, State.REWARD)
    assert (again.state, again.attempt, again.runner) == (State.REWARD, 2, state_machine.this_process())


def test_a_reused_pid_is_still_a_dead_runner():
    # same host and pid as this process, another start time: the process that ran the stage is gone
    name, _, _ = state_machine.this_process().rpartition(":")
    assert state_machine.runner_gone(f"{name}:1.00")
    assert not state_machine.runner_gone(state_machine.this_process())
    assert not state_machine.runner_gone("another-host:1:1.00")  # unknowable here: the heartbeat decides


def test_a_silent_stage_on_another_host_runs_again_after_stale_after(training_round, settings):
    settings.PREFLOOP_STALE_AFTER = 60
    state_machine.enter(training_round.pk, State.SNAPSHOT, runner="other-host:7:1.00")
    with pytest.raises(state_machine.StageSkipped):
        state_machine.enter(training_round.pk, State.SNAPSHOT)
    TrainingRound.objects.filter(pk=training_round.pk).update(
        heartbeat=timezone.now() - timedelta(seconds=61)
    )
    assert state_machine.enter(training_round.pk, State.SNAPSHOT).attempt == 2


def test_a_delivery_for_a_stage_the_round_left_is_skipped(training_round):
    state_machine.enter(training_round.pk, State.SNAPSHOT)
    state_machine.enter(training_round.pk, State.SFT)
    state_machine.enter(training_round.pk, State.REWARD)
    with pytest.raises(state_machine.StageSkipped, match="already at reward"):
        state_machine.enter(training_round.pk, State.SNAPSHOT)


def test_a_superseded_attempt_cannot_fail_the_round(training_round):
    old = dead_runner()
    state_machine.enter(training_round.pk, State.SNAPSHOT, runner=old)
    state_machine.enter(training_round.pk, State.SNAPSHOT)  # attempt 2 took over
    assert state_machine.fail(training_round.pk, "late error of attempt 1", runner=old) is False
    assert state_machine.beat(training_round.pk, old) is False
    training_round.refresh_from_db()
    assert training_round.state == State.SNAPSHOT


def test_recovery_claims_a_dead_stage_once(training_round):
    state_machine.enter(training_round.pk, State.SNAPSHOT)
    state_machine.enter(training_round.pk, State.SFT)
    state_machine.enter(training_round.pk, State.REWARD, runner=dead_runner())
    training_round.refresh_from_db()
    assert state_machine.needs_resume(training_round)
    assert state_machine.claim(training_round.pk, State.REWARD, by="w1") is True
    assert state_machine.claim(training_round.pk, State.REWARD, by="w2") is False  # a fresh claim stands
    assert (
        state_machine.enter(training_round.pk, State.REWARD).attempt == 2
    )  # whoever takes the resend runs it


def test_a_finished_stage_waits_for_its_next_one_in_the_broker(training_round, settings):
    settings.PREFLOOP_STALE_AFTER = 0
    state_machine.enter(training_round.pk, State.SNAPSHOT)
    state_machine.finish_stage(training_round.pk, state_machine.this_process())
    training_round.refresh_from_db()
    assert not state_machine.needs_resume(training_round)


def test_a_never_sent_queued_round_is_resumed(training_round, settings):
    settings.PREFLOOP_STALE_AFTER = 0
    assert state_machine.needs_resume(training_round)  # heartbeat None: the send never happened
    TrainingRound.objects.filter(pk=training_round.pk).update(heartbeat=timezone.now())
    training_round.refresh_from_db()
    assert not state_machine.needs_resume(training_round)


def test_reopen_puts_a_failed_round_back_in_its_stage(training_round):
    state_machine.enter(training_round.pk, State.SNAPSHOT)
    state_machine.enter(training_round.pk, State.SFT)
    state_machine.enter(training_round.pk, State.REWARD)
    state_machine.fail(training_round.pk, "reward failed: boom")
    assert state_machine.reopen(training_round.pk, by="retry") == State.REWARD
    training_round.refresh_from_db()
    assert (training_round.state, training_round.error, training_round.finished) == (State.REWARD, "", None)
    assert State.FAILED not in training_round.timeline
    assert state_machine.enter(training_round.pk, State.REWARD).attempt == 2


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
