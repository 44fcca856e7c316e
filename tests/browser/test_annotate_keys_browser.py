"""The annotate page's "?" overlay in real Chromium: it lists every key the page registers (read
from the page's own registry), is a modal dialog that keeps the focus and closes on Esc, and the
annotator judges with keys only around it."""

from __future__ import annotations

import pytest

from tests import platform_factories as factories
from tests.browser.pages import login
from webapp.annotation.models import Assignment, Judgment

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def setup_project(transactional_db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = factories.make_user("ann")
    project = factories.make_project(annotators=[user])
    factories.make_comparison(project, prompt="What is 7 * 8?", text_a="56", text_b="54")
    factories.make_comparison(project, prompt="Say hello.", text_a="Hello.", text_b="Hi")
    return project, user


def _overlay_rows(page) -> list[dict]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#keys-overlay .keys-row')).map(row => ({
            key: row.dataset.key,
            label: row.querySelector('dd').textContent,
            group: row.closest('.keys-group').querySelector('h3').textContent,
        }))"""
    )


def _focus_in_overlay(page) -> bool:
    return page.evaluate("() => document.getElementById('keys-overlay').contains(document.activeElement)")


def test_overlay_lists_every_registered_key_and_judging_needs_no_mouse(page, live_server, setup_project):
    project, user = setup_project
    login(page, live_server, f"/p/{project.slug}/annotate/")
    registered = page.evaluate("() => window.prefloopKeys.list()")
    keys = [entry["key"] for entry in registered]
    # annotate.js's keys, and ? itself, are all in the registry.
    assert {"1", "2", "3", "4", "q", "w", "e", "r", "Enter", "s", "Escape", "?"} <= set(keys)
    assert page.locator("#keys-overlay:visible").count() == 0

    page.keyboard.press("?")
    dialog = page.locator("#keys-overlay [role=dialog]")
    assert dialog.is_visible()
    assert dialog.get_attribute("aria-modal") == "true"
    assert page.locator(f"#{dialog.get_attribute('aria-labelledby')}").inner_text() == "Keyboard shortcuts"
    # Every registered key is listed once, under its group (groups in order of first use), with its label.
    groups = list(dict.fromkeys(entry["group"] for entry in registered))
    assert page.locator("#keys-overlay .keys-group h3").all_text_contents() == groups
    by_group = sorted(registered, key=lambda entry: groups.index(entry["group"]))
    assert _overlay_rows(page) == by_group

    # Focus is trapped: Tab and Shift+Tab stay inside the dialog.
    assert _focus_in_overlay(page)
    for key in ["Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"]:
        page.keyboard.press(key)
        assert _focus_in_overlay(page), key
    # Page keys do nothing behind the open dialog.
    page.keyboard.press("2")
    assert "selected" not in (page.locator("button[value=right]").get_attribute("class") or "")
    page.keyboard.press("Escape")
    assert page.locator("#keys-overlay:visible").count() == 0
    assert not _focus_in_overlay(page)

    # ? typed into the reason box is text, not the overlay.
    page.keyboard.press("r")
    page.keyboard.type("why?")
    assert page.locator("#keys-overlay:visible").count() == 0
    assert page.locator("textarea[name=reason]").input_value() == "why?"
    page.keyboard.press("Escape")

    # Judge by keys alone: B clearly better... then much better, submitted with Enter.
    first = Assignment.objects.get(annotator=user, completed__isnull=True)
    page.keyboard.press("2")
    page.keyboard.press("e")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    judgment = Judgment.objects.get(comparison=first.comparison_id, annotator=user)
    assert judgment.choice == ("a" if first.swapped else "b")
    assert (judgment.strength, judgment.reason) == (3, "why?")

    # The overlay works on the next page too, opened and closed again, and s skips after it.
    page.keyboard.press("?")
    assert page.locator("#keys-overlay [role=dialog]").is_visible()
    page.keyboard.press("?")
    assert page.locator("#keys-overlay:visible").count() == 0
    second = Assignment.objects.get(annotator=user, completed__isnull=True)
    with page.expect_navigation():
        page.keyboard.press("s")
    second.refresh_from_db()
    assert second.outcome == Assignment.Outcome.SKIPPED
    assert Judgment.objects.filter(annotator=user).count() == 1
