"""Retry, cancel and roll back, from the commands and the buttons; a broker that is down when a
round starts; who sees a failed round's traceback."""

from __future__ import annotations

import io
import tarfile
import time

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import free_port, use_broker
from tests.platform_factories import judge_all, make_policy, make_user, project_with_comparisons
from webapp.catalog.models import PolicyVersion
from webapp.config.celery import app
from webapp.projects.models import Membership
from webapp.projects.roles import Role
from webapp.rounds import services, state_machine
from webapp.rounds.models import TrainingRound

pytestmark = pytest.mark.django_db
ENOUGH = {"round": {"min_pairs": 2}}
State = TrainingRound.State


def started(project, django_capture_on_commit_callbacks) -> TrainingRound:
    project.training_config = ENOUGH
    project.save()
    judge_all(project)
    with django_capture_on_commit_callbacks():  # captured, not run: no broker needed
        return services.start_round(project)


def failed_in_reward(training_round: TrainingRound) -> None:
    state_machine.enter(training_round.pk, State.SNAPSHOT)
    state_machine.enter(training_round.pk, State.SFT)
    state_machine.enter(training_round.pk, State.REWARD)
    state_machine.fail(
        training_round.pk, "reward failed: OSError: disk full\n\nTraceback (most recent call last):\n  ..."
    )


def test_retry_reopens_the_failed_stage_and_sends_it(django_capture_on_commit_callbacks):
    project = project_with_comparisons(3)
    training_round = started(project, django_capture_on_commit_callbacks)
    failed_in_reward(training_round)
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("retry_round", project=project.slug, stdout=io.StringIO())
    assert len(callbacks) == 1  # the chain from reward is sent once the reopen committed
    training_round.refresh_from_db()
    assert (training_round.state, training_round.error) == (State.REWARD, "")
    with pytest.raises(
        CommandError, match="round 1 is reward; only a failed or cancelled round can be retried"
    ):
        call_command("retry_round", project=project.slug)


def test_retry_refused_once_the_active_policy_changed(django_capture_on_commit_callbacks, tmp_path):
    project = project_with_comparisons(3)
    training_round = started(project, django_capture_on_commit_callbacks)
    failed_in_reward(training_round)
    v1 = make_policy(project, 1, checkpoint=str(tmp_path))
    services.activate_policy(project, v1.number)
    with pytest.raises(CommandError, match="no longer active; start a new round instead"):
        call_command("retry_round", project=project.slug)


def test_cancel_command_cancels_the_running_round(django_capture_on_commit_callbacks):
    project = project_with_comparisons(3)
    training_round = started(project, django_capture_on_commit_callbacks)
    state_machine.enter(training_round.pk, State.SNAPSHOT)
    out = io.StringIO()
    call_command("cancel_round", project=project.slug, stdout=out)
    assert "round 1 cancelled (it was in snapshot)" in out.getvalue()
    with pytest.raises(CommandError, match="no round of this project is running"):
        call_command("cancel_round", project=project.slug)


def test_activate_rolls_back_and_refuses_while_a_round_runs(django_capture_on_commit_callbacks, tmp_path):
    project = project_with_comparisons(3)
    v0 = project.active_policy
    v0.checkpoint = str(tmp_path)
    v0.save()
    v1 = make_policy(project, 1, checkpoint=str(tmp_path))
    call_command("activate_policy", project=project.slug, number=1, stdout=io.StringIO())
    project.refresh_from_db()
    assert project.active_policy == v1
    call_command("activate_policy", "--project", project.slug, "--version", "0", stdout=io.StringIO())
    project.refresh_from_db()
    assert project.active_policy == v0
    assert PolicyVersion.objects.get(pk=v1.pk).status == PolicyVersion.Status.RETIRED
    with pytest.raises(CommandError, match="no policy version 7"):
        call_command("activate_policy", project=project.slug, number=7)
    started(project, django_capture_on_commit_callbacks)
    with pytest.raises(CommandError, match="round 1 is queued; cancel it or let it finish first"):
        call_command("activate_policy", project=project.slug, number=1)


def test_activate_refuses_a_missing_checkpoint():
    project = project_with_comparisons(1)
    make_policy(project, 1, checkpoint="/nonexistent/v1")
    with pytest.raises(services.RoundError, match=r"v1's checkpoint is missing"):
        services.activate_policy(project, 1)
    project.refresh_from_db()
    assert project.active_policy.number == 0


@pytest.fixture
def broker_down():
    """The app's broker pointed at a port nobody listens on."""
    before = app.conf.broker_url
    use_broker(f"redis://127.0.0.1:{free_port()}/0")
    yield
    use_broker(before)


@pytest.mark.django_db(transaction=True)  # the send runs at the real commit, inside the request
def test_a_round_whose_send_fails_is_failed_at_once_and_blocks_nothing(
    broker_down, django_capture_on_commit_callbacks, client
):
    # django_capture_on_commit_callbacks only for the last start below, which must not be sent
    project = project_with_comparisons(3)
    project.training_config = ENOUGH
    project.save()
    judge_all(project)
    admin = make_user("admin", staff=True)
    project.annotators.add(admin)
    client.force_login(admin)
    clock = time.monotonic()
    response = client.post(f"/p/{project.slug}/rounds/start/", follow=True)
    assert time.monotonic() - clock < 15  # refused within seconds, not after the broker's long retries
    page = response.content.decode()
    assert "Round 1 not started: Not sent to the workers: the task queue (redis://127.0.0.1:" in page
    training_round = TrainingRound.objects.get(project=project)
    assert (training_round.state, training_round.stopped_stage) == (State.FAILED, State.QUEUED)
    with django_capture_on_commit_callbacks(execute=False):
        assert services.start_round(project).number == 2  # the project is not blocked


def test_traceback_only_for_staff(django_capture_on_commit_callbacks, client):
    """Annotators see the error's first line; a project admin may also retry; staff see the traceback."""
    project = project_with_comparisons(3)
    training_round = started(project, django_capture_on_commit_callbacks)
    failed_in_reward(training_round)
    annotator = make_user("ann")
    project.annotators.add(annotator)
    client.force_login(annotator)
    page = client.get(f"/p/{project.slug}/rounds/1/").content.decode()
    data = client.get(f"/p/{project.slug}/rounds/1/progress/").json()
    assert "reward failed: OSError: disk full" in page and "Traceback" not in page
    assert data["error"] == "reward failed: OSError: disk full"
    assert 'data-testid="retry-round"' not in page
    Membership.objects.filter(project=project, user=annotator).update(role=Role.ADMIN)
    page = client.get(f"/p/{project.slug}/rounds/1/").content.decode()
    assert 'data-testid="retry-round"' in page and "Traceback" not in page
    annotator.is_staff = True
    annotator.save()
    page = client.get(f"/p/{project.slug}/rounds/1/").content.decode()
    assert "Traceback (most recent call last)" in page and 'data-testid="retry-round"' in page
    assert "Retry from reward" in page


def test_activate_and_download_buttons(client, tmp_path):
    project = project_with_comparisons(1)
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "model.safetensors").write_bytes(b"\x01" * 1500)
    (tmp_path / "v1" / "config.json").write_text("{}")
    make_policy(project, 1, checkpoint=str(tmp_path / "v1"))
    admin = make_user("admin", staff=True)
    client.force_login(admin)
    page = client.get(f"/p/{project.slug}/policies/").content.decode()
    assert 'data-testid="activate-v1"' in page
    response = client.post(f"/p/{project.slug}/policies/v1/activate/", follow=True)
    assert "v1 is now serving" in response.content.decode()
    project.refresh_from_db()
    assert project.active_policy.number == 1
    response = client.get(f"/p/{project.slug}/policies/v1/download/")
    assert response["Content-Disposition"] == f'attachment; filename="{project.slug}-v1.tar"'
    archive = tarfile.open(fileobj=io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.getnames()) == [
        f"{project.slug}-v1/config.json",
        f"{project.slug}-v1/model.safetensors",
    ]
    assert archive.extractfile(f"{project.slug}-v1/model.safetensors").read() == b"\x01" * 1500
    annotator = make_user("ann")
    project.annotators.add(annotator)
    client.force_login(annotator)
    assert client.get(f"/p/{project.slug}/policies/v1/download/").status_code == 403
    assert client.post(f"/p/{project.slug}/policies/v0/activate/").status_code == 403
    project.refresh_from_db()
    assert project.active_policy.number == 1
    Membership.objects.filter(project=project, user=annotator).update(
        role=Role.ADMIN
    )  # the project's admin may
    assert 'data-testid="activate-v0"' in client.get(f"/p/{project.slug}/policies/").content.decode()
    assert client.get(f"/p/{project.slug}/policies/v1/download/").status_code == 200
    response = client.post(f"/p/{project.slug}/policies/v0/activate/", follow=True)
    assert "v0 not activated: v0&#x27;s checkpoint is missing" in response.content.decode()
