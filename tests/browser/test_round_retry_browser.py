"""An admin retries a failed round from its page and watches it reach done, in real Chromium,
with a real Celery worker doing the work."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import platform_factories as factories
from tests.tiny_rounds import ROUND, tiny_project, until
from webapp.rounds import services
from webapp.rounds.models import TrainingRound

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
QUICK = {**ROUND, "reward": {**ROUND["reward"], "epochs": 2}, "ppo": {**ROUND["ppo"], "total_episodes": 16}}


def test_admin_retries_a_failed_round_and_watches_it_finish(
    transactional_db, settings, live_server, page, start_worker, tmp_path
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    project = tiny_project(tmp_path, QUICK)
    factories.make_user("admin", staff=True)
    # The disk that holds v0 goes away: the reward stage cannot load the model and the round fails.
    checkpoint = Path(project.active_policy.checkpoint)
    hidden = checkpoint.with_name("unmounted")
    checkpoint.rename(hidden)
    start_worker()
    training_round = services.start_round(project)
    until(
        lambda: TrainingRound.objects.get(pk=training_round.pk).state == TrainingRound.State.FAILED,
        "the round to fail",
    )
    hidden.rename(checkpoint)  # the disk is back

    page.goto(f"{live_server.url}/login/?next=/p/{project.slug}/rounds/1/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", factories.PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    error = page.locator("[data-testid=round-error]").text_content()
    assert error.startswith("reward failed: ") and "Traceback" in error  # staff see the traceback
    with page.expect_navigation():
        page.click("[data-testid=retry-round]")
    assert "Round 1 sent again from reward." in page.content()
    page.wait_for_selector("#round-state:text('done')", timeout=300_000)
    assert page.locator("#round-error").is_hidden()
    page.screenshot(path=str(tmp_path / "retried.png"))
    training_round.refresh_from_db()
    assert training_round.state == TrainingRound.State.DONE and "reward" in training_round.metrics
    project.refresh_from_db()
    assert project.active_policy == training_round.policy_out
