"""The annotate page's layout in real Chromium: answers stacked at 360 px with no sideways page
scroll, side by side at 1920 px; a long code block keeps its lines and scrolls inside its column."""

from __future__ import annotations

import pytest

from tests import platform_factories as factories
from tests.browser.pages import login

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CODE_LINES = [f"    value_{i} = compute_something(argument_{i}, " + "x" * 150 + ")" for i in range(120)]
LONG_CODE = "Here is the code:\n\n```python\ndef long_function():\n" + "\n".join(CODE_LINES) + "\n```\n"


@pytest.fixture
def annotate_path(transactional_db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = factories.make_user("ann")
    project = factories.make_project(annotators=[user], guidelines="")
    factories.make_comparison(project, prompt="Write a long function.", text_a=LONG_CODE, text_b=LONG_CODE)
    return f"/p/{project.slug}/annotate/"


def _open(browser, live_server, path, width, height=900):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15_000)
    login(page, live_server, path)
    return context, page


def _boxes(page):
    return page.locator("#response-left").bounding_box(), page.locator("#response-right").bounding_box()


def _no_sideways_page_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_narrow_screen_stacks_the_answers(browser, live_server, annotate_path):
    context, page = _open(browser, live_server, annotate_path, 360, 740)
    try:
        left, right = _boxes(page)
        assert right["y"] >= left["y"] + left["height"]  # B starts below A ends
        assert left["x"] >= 0 and left["x"] + left["width"] <= 360
        assert _no_sideways_page_scroll(page)
        # The judging bar fits too: all four choices are on screen horizontally.
        for value in ("left", "right", "tie", "both_bad"):
            box = page.locator(f"button[value={value}]").bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 360, value
    finally:
        context.close()


def test_wide_screen_puts_the_answers_side_by_side(browser, live_server, annotate_path):
    context, page = _open(browser, live_server, annotate_path, 1920, 1080)
    try:
        left, right = _boxes(page)
        assert abs(right["y"] - left["y"]) < 1
        assert right["x"] >= left["x"] + left["width"]
        assert left["width"] > 500 and right["width"] > 500
        assert _no_sideways_page_scroll(page)
    finally:
        context.close()


@pytest.mark.parametrize("width", [360, 1920])
def test_long_code_keeps_its_lines_and_scrolls_inside_its_column(browser, live_server, annotate_path, width):
    context, page = _open(browser, live_server, annotate_path, width)
    try:
        column = page.locator("#response-left .rendered")
        pre = column.locator("pre")
        assert pre.count() == 1
        # Every line of the code block is its own line, indentation kept, nothing wrapped.
        text = pre.inner_text()
        assert text.rstrip("\n").split("\n") == ["def long_function():", *CODE_LINES]
        assert pre.evaluate("el => getComputedStyle(el).whiteSpace") == "pre"
        line_height = pre.evaluate("el => parseFloat(getComputedStyle(el).lineHeight) || 20")
        assert pre.evaluate("el => el.scrollHeight") >= len(CODE_LINES) * line_height * 0.9  # not wrapped
        # The long lines scroll sideways inside the block, not the page.
        assert pre.evaluate("el => el.scrollWidth > el.clientWidth")
        pre.evaluate("el => { el.scrollLeft = 200; }")
        assert pre.evaluate("el => el.scrollLeft") == 200
        assert _no_sideways_page_scroll(page)
        # The long answer scrolls inside its column: capped height, the rest reachable by scrolling.
        height = column.evaluate("el => el.clientHeight")
        assert height <= 0.7 * 900 + 1
        assert column.evaluate("el => el.scrollHeight > el.clientHeight")
        column.evaluate("el => { el.scrollTop = 300; }")
        assert column.evaluate("el => el.scrollTop") == 300
        assert page.evaluate("() => window.scrollX") == 0
    finally:
        context.close()
