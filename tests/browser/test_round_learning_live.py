"""The round page's "Did it learn?" panel fills in live when evaluation finishes, in real Chromium."""

from __future__ import annotations

import pytest

from tests import learning_factories as learned
from tests import platform_factories as factories
from webapp.catalog.models import PolicyVersion
from webapp.rounds.models import TrainingRound

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_verdict_and_samples_appear_without_a_reload(transactional_db, settings, live_server, page):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = factories.make_user("ann")
    project = factories.make_project(annotators=[user])
    v0 = factories.make_policy(project, 0)
    _, training_round = learned.trained_version(
        project, 1, v0, {"reward": learned.reward()}, status=PolicyVersion.Status.READY, state="evaluate"
    )
    page.goto(f"{live_server.url}/login/?next=/p/{project.slug}/rounds/1/")
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", factories.PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("#round-state:text('evaluate')")
    assert page.locator("[data-testid=verdict]").count() == 0
    page.evaluate("window.__sameDocument = true")

    samples = [{"prompt": "p", "new": "<script>window.__pwned = 1</script>\nok", "old": "old answer"}]
    TrainingRound.objects.filter(pk=training_round.pk).update(
        state="done",
        metrics={"reward": learned.reward(), "evaluation": learned.evaluation(win_rate=0.9, samples=samples)},
    )
    verdict = page.wait_for_selector("[data-testid=verdict]")
    assert (
        verdict.text_content().strip()
        == "v1 beats v0 on 90% of 24 held-out prompts under this round's reward model."
    )
    assert page.locator(".answer-new .plain").text_content() == "<script>window.__pwned = 1</script>\nok"
    assert page.evaluate("window.__sameDocument === true && window.__pwned === undefined")
