"""An annotator logs in and judges by keyboard only in real Chromium; the stored choices are mapped.

Debian's Chromium (/usr/bin/chromium) is driven by Playwright's Python package; no browser is
downloaded. Screenshots go to var/screenshots/ for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from tests import platform_factories as factories
from tests.browser.pages import login
from webapp.annotation.models import Assignment, Judgment

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
HOSTILE = (
    '<img src=x onerror="window.__pwned = 1"> <script>window.__pwned = 2; alert("xss")</script> '
    "[click](javascript:window.__pwned=3)"
)
LONG_A = (
    "Paris is the capital of France.\n\nIt has been the seat of government since the 10th century, "
    "and today it is home to about **2.1 million** people.\n\n```python\nprint('Paris')\n```"
)
PROMPTS = [
    ("What is the capital of France?", LONG_A, "Lyon. " + HOSTILE),
    ("Name a prime number bigger than 10.", "11", "12"),
    ("Say hello in French.", "Bonjour.", "Salut !"),
    ("What is 7 * 8?", "54", "57"),
    ("Write a haiku about rain.", "Rain.", "Rain, rain, rain."),
]


@pytest.fixture
def setup_project(transactional_db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = factories.make_user("ann")
    project = factories.make_project(
        annotators=[user],
        guidelines="## How to judge\n\n- Prefer **correct** answers.\n- Then prefer the *clearer* one.",
    )
    comparisons = [
        factories.make_comparison(project, prompt=prompt, text_a=a, text_b=b) for prompt, a, b in PROMPTS
    ]
    return project, user, comparisons


def _open(user) -> Assignment:
    return Assignment.objects.get(annotator=user, completed__isnull=True)


def _judged(assignment: Assignment) -> Judgment:
    return Judgment.objects.get(comparison=assignment.comparison_id, annotator=assignment.annotator)


def _mapped(shown: str, swapped: bool) -> str:
    """What a key means in stored terms: 1 is the left response, which is B when swapped."""
    return {"left": "b" if swapped else "a", "right": "a" if swapped else "b"}[shown]


def _submit(page, key: str = "Enter") -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


def test_judge_by_keyboard(page, live_server, setup_project):
    project, user, comparisons = setup_project
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    annotate_url = f"/p/{project.slug}/annotate/"
    login(page, live_server, annotate_url)
    assert page.url == f"{live_server.url}{annotate_url}"

    # Pair 1: hostile model output is shown as text and never runs.
    assert "capital of France" in page.locator(".conversation").inner_text()
    assert page.locator("#response-left").is_visible() and page.locator("#response-right").is_visible()
    assert page.locator("#response-left .badge").inner_text() == "A"
    assert page.locator("#response-right .badge").inner_text() == "B"
    pair_text = page.locator(".pair").inner_text()
    assert '<img src=x onerror="window.__pwned = 1">' in pair_text
    assert "<script>window.__pwned = 2" in pair_text
    assert page.locator(".pair img, .pair script, .pair [onerror], .pair a[href^='javascript']").count() == 0
    assert page.evaluate("window.__pwned") is None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "annotate.png"), full_page=True)

    first = _open(user)
    page.wait_for_timeout(300)  # some measurable time on the page
    page.keyboard.press("2")
    assert "selected" in (page.locator("button[value=right]").get_attribute("class") or "")
    page.screenshot(path=str(SCREENSHOTS / "annotate-selected.png"))
    _submit(page)
    judgment = _judged(first)
    assert judgment.choice == _mapped("right", first.swapped)
    assert judgment.strength == 2 and judgment.reason == ""
    assert 0.2 < judgment.seconds_spent < 60

    # Pair 2: e = much better, r focuses the reason, Esc leaves it, 1 = left, Enter submits.
    assert "prime number" in page.locator(".conversation").inner_text()
    assert re.search(r"1\s+judged today", page.locator("#progress").inner_text())
    second = _open(user)
    page.keyboard.press("e")
    page.keyboard.press("r")
    page.keyboard.type("12 is not prime")
    page.keyboard.press("Escape")
    page.keyboard.press("1")
    _submit(page)
    judgment = _judged(second)
    assert (judgment.choice, judgment.strength, judgment.reason) == (
        _mapped("left", second.swapped),
        3,
        "12 is not prime",
    )

    # Pair 3: q = slightly, 3 = tie.
    assert "hello in French" in page.locator(".conversation").inner_text()
    third = _open(user)
    page.keyboard.press("q")
    page.keyboard.press("3")
    _submit(page)
    judgment = _judged(third)
    assert (judgment.choice, judgment.strength) == ("tie", 1)

    # Pair 4: s skips it; nothing stored, and it is not offered again.
    assert "7 * 8" in page.locator(".conversation").inner_text()
    fourth = _open(user)
    _submit(page, "s")
    fourth.refresh_from_db()
    assert fourth.completed is not None
    assert not Judgment.objects.filter(comparison=fourth.comparison_id).exists()

    # Pair 5: 4 = both bad, and Enter inside the reason box submits too.
    assert "haiku" in page.locator(".conversation").inner_text()
    fifth = _open(user)
    page.keyboard.press("4")
    page.keyboard.press("r")
    page.keyboard.type("neither is a haiku")
    _submit(page)
    judgment = _judged(fifth)
    assert (judgment.choice, judgment.reason) == ("both_bad", "neither is a haiku")

    # The queue is dry.
    assert "Nothing left to judge" in page.locator("main").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "annotate-empty.png"))
    assert Judgment.objects.filter(annotator=user).count() == 4
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
