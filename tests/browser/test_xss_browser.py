"""Hostile text never runs in real Chromium, on every page that shows it.

Where each kind of text is shown (templates grepped):
* prompts and responses: the annotate page (markdown, raw HTML off, then nh3) and, as sample
  answers of the evaluate stage, the round page and the policy versions page (plain text);
* project guidelines: the annotate page (staff-written markdown with inline HTML, through nh3);
* reasons: stored reasons are shown nowhere in the web UI (only exported); the reason the
  annotator typed comes back on two pages: the refused-judgment message (409, a stale lease)
  and the form re-shown with a field error (400, a reason over the project's limit).

Every payload tries to set `window.__pwned` and to open a dialog. The pages are loaded with the
Content-Security-Policy bypassed (Playwright's `bypass_csp`): the CSP (`script-src 'self'`)
would block inline script even if escaping failed, so with it on the test could not fail; here
escaping and sanitising are tested on their own. A control renders the same payloads as raw
HTML in the same browser and must see them run, so a quiet result means something.
Every link that came from the payload area is clicked; any dialog or marker fails the test.
"""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.utils import timezone

from tests import learning_factories as learned
from tests import platform_factories as factories
from tests.browser.pages import login
from webapp.annotation.models import Assignment
from webapp.catalog.models import PolicyVersion

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _js(tag: str) -> str:
    return f"window.__pwned='{tag}';alert('{tag}')"


# (label, source): one paragraph each; the label names it in failures.
HTML_PAYLOADS = [
    ("script", f"<script>{_js('script')}</script>"),
    ("img-onerror", f'<img src=x onerror="{_js("img")}">'),
    ("body-onload", f'<body onload="{_js("body")}">'),
    ("svg-onload", f'<svg onload="{_js("svg")}">'),
    ("details-ontoggle", f'<details open ontoggle="{_js("details")}" autofocus>details</details>'),
    ("js-link", f'<a href="javascript:{_js("js-link")}">js link</a>'),
    ("data-link", '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data link</a>'),
    ("svg-script", f"<svg><script>{_js('svg-script')}</script></svg>"),
    (
        "svg-xlink",
        f'<svg><a xlink:href="javascript:{_js("svg-a")}"><text x="9" y="9">svg link</text></a></svg>',
    ),
    ("svg-animate", f'<svg><animate onbegin="{_js("animate")}" attributeName="x" dur="1s"></animate></svg>'),
    ("math-href", f'<math href="javascript:{_js("math")}">math link</math>'),
    ("entity-html-link", f'<a href="jav&#x61;script:{_js("entity-a")}">entity link</a>'),
]
MARKDOWN_PAYLOADS = [
    ("md-js-link", f"[md js link](javascript:{_js('md-js')})"),
    ("md-data-link", "[md data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"),
    ("md-js-image", f"![md js image](javascript:{_js('md-img')})"),
    ("md-attr-image", f'![md attr image](x" onerror="{_js("md-attr")})'),
    ("md-reference", f"[md reference link][evil]\n\n[evil]: javascript:{_js('md-ref')}"),
    ("md-autolink", f"<javascript:{_js('md-auto')}>"),
    ("md-entity-link", f"[md entity link](jav&#x61;script:{_js('md-entity')})"),
]
# Mutation XSS last: where HTML is allowed (guidelines) its unclosed <style> may swallow the rest.
MXSS = ("math-mxss", f'<math><mtext><table><mglyph><style><img src=x onerror="{_js("mxss")}">')
HTML_PAYLOADS.append(MXSS)
PAYLOADS = [*HTML_PAYLOADS[:-1], *MARKDOWN_PAYLOADS, MXSS]
HOSTILE = "Hostile text follows.\n\n" + "\n\n".join(source for _, source in PAYLOADS)
# What stays of the HTML links where inline HTML is allowed (guidelines): their text, no href.
# (nh3 drops <svg> with everything in it.)
GUIDELINE_LINKS = ["js link", "data link", "math link", "entity link"]


def _squash(text: str) -> str:
    return " ".join(text.split())


def _settled(page) -> None:
    """Load fired (an image's error event comes before it) and two frames drawn (SVG timelines,
    details' toggle task): what a payload needs to have run."""
    page.wait_for_load_state("load")
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


class Watch:
    """Dialogs opened and `window.__pwned` values seen on a page."""

    def __init__(self, page) -> None:
        self.page, self.dialogs, self.markers = page, [], []
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def check(self, where: str) -> None:
        _settled(self.page)
        marker = self.page.evaluate("window.__pwned")
        if marker is not None:
            self.markers.append((where, marker))
        assert (self.dialogs, self.markers) == ([], []), f"a payload ran on {where}"


def _click_payload_links(page, area: str, watch: Watch, where: str) -> int:
    """Click every link inside `area`; come back when one navigates. How many were clicked."""
    url, clicked = page.url, 0
    for index in range(page.locator(f"{area} a").count()):
        link = page.locator(f"{area} a").nth(index)
        if not link.is_visible():
            continue
        link.click()
        clicked += 1
        watch.check(f"{where}, after clicking link {index} of {area}")
        if page.url != url:
            page.goto(url)
    return clicked


def _assert_untrusted_text_shown(page, area: str, plain: bool) -> None:
    """Raw HTML and markdown tricks arrive as the text they are (markdown decodes entities)."""
    shown = _squash(page.locator(area).first.inner_text())
    for label, source in PAYLOADS:
        expected = source if plain else html.unescape(source)
        assert _squash(expected) in shown, (area, label)
    dangerous = f"{area} script, {area} img, {area} svg, {area} math, {area} [onerror], {area} [onload]"
    assert page.locator(dangerous).count() == 0
    assert page.locator(f"{area} a[href^='javascript' i], {area} a[href^='data' i]").count() == 0


@pytest.fixture
def hostile(transactional_db, settings):
    """A member with hostile comparisons waiting, and a finished round whose samples are hostile."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = factories.make_user("ann")
    project = factories.make_project(annotators=[user], guidelines="Judge carefully.\n\n" + HOSTILE)
    for _ in range(2):  # a second one for the page after a refused judgment
        factories.make_comparison(project, prompt=HOSTILE, text_a=HOSTILE, text_b=HOSTILE)
    v0 = PolicyVersion.objects.get(project=project, number=0)
    samples = [{"prompt": HOSTILE, "old": HOSTILE, "new": HOSTILE}]
    metrics = {
        "evaluation": learned.evaluation(samples=samples),
        "reward": learned.reward(),
        "ppo": learned.ppo(),
    }
    learned.trained_version(project, 1, v0, metrics, status=PolicyVersion.Status.READY)
    return project, user


@pytest.fixture
def csp_off_page(browser, live_server):
    context = browser.new_context(bypass_csp=True, viewport={"width": 1366, "height": 900})
    # Nothing leaves the machine: requests to anywhere but the live server are refused.
    context.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith(live_server.url) else route.abort(),
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_the_payloads_run_when_rendered_as_html(csp_off_page):
    """The control: the same payloads, written into a page as HTML, do run, and are seen."""
    page = csp_off_page
    watch = Watch(page)
    page.set_content("<!doctype html>" + "".join(f"<div>{source}</div>" for _, source in HTML_PAYLOADS))
    _settled(page)
    ran_on_load = list(watch.dialogs)
    page.evaluate("window.__pwned = undefined")
    page.locator("a", has_text="js link").first.click()
    _settled(page)
    assert {"script", "img"} <= set(ran_on_load), ran_on_load
    assert watch.dialogs[len(ran_on_load) :] == ["js-link"]  # a clicked javascript: link runs too
    assert page.evaluate("window.__pwned") == "js-link"


def test_prompts_responses_and_guidelines_on_the_annotate_page(csp_off_page, live_server, hostile):
    project, _ = hostile
    page = csp_off_page
    page.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith(live_server.url) else route.abort(),
    )
    watch = Watch(page)
    url = f"/p/{project.slug}/annotate/"
    login(page, live_server, url)
    assert page.url == f"{live_server.url}{url}"
    watch.check("the annotate page")

    _assert_untrusted_text_shown(page, ".conversation", plain=False)
    for side in ("left", "right"):
        _assert_untrusted_text_shown(page, f"#response-{side} .rendered", plain=False)
    # Guidelines allow inline HTML (staff-written): tags are sanitised away, their text stays.
    guidelines = _squash(page.locator(".guidelines").inner_text())
    assert "Judge carefully." in guidelines
    for label in GUIDELINE_LINKS + ["md js link", "md reference link", "md entity link"]:
        assert label in guidelines, label
    assert page.locator(".guidelines script, .guidelines img, .guidelines svg, .guidelines math").count() == 0
    assert page.locator(".guidelines [onerror], .guidelines [ontoggle], .guidelines [onload]").count() == 0
    clicked = 0
    for area in (".guidelines", ".conversation", ".pair"):
        clicked += _click_payload_links(page, area, watch, "the annotate page")
    assert clicked >= 3  # the guidelines' sanitised links at least: the clicking did happen
    # The raw view of the responses is text too.
    page.locator("label[for=raw-toggle]").click()
    assert _squash(HOSTILE.split("\n\n")[1]) in _squash(page.locator("#response-left .raw").inner_text())
    watch.check("the annotate page, raw view")


def test_sample_answers_on_the_round_and_policies_pages(csp_off_page, live_server, hostile):
    project, _ = hostile
    page = csp_off_page
    watch = Watch(page)
    login(page, live_server, f"/p/{project.slug}/rounds/1/")
    for url in (f"/p/{project.slug}/rounds/1/", f"/p/{project.slug}/policies/"):
        page.goto(f"{live_server.url}{url}")
        watch.check(url)
        for part in (".sample-prompt", ".answer-old", ".answer-new"):
            _assert_untrusted_text_shown(page, f"[data-testid=sample] {part}", plain=True)
        _click_payload_links(page, "[data-testid=sample]", watch, url)


def test_reasons_that_come_back_to_the_annotator(csp_off_page, live_server, hostile):
    """The typed reason is shown again on a refusal: kept to copy (409), and in the form (400)."""
    project, user = hostile
    page = csp_off_page
    watch = Watch(page)
    url = f"/p/{project.slug}/annotate/"
    login(page, live_server, url)
    reason = " ".join(source.replace("\n", " ") for _, source in PAYLOADS)

    # 409: the lease ran out while they typed; the message keeps the reason to copy.
    page.fill("textarea[name=reason]", reason)
    Assignment.objects.filter(annotator=user).update(expires=timezone.now() - timedelta(seconds=1))
    with page.expect_navigation():
        page.locator("button[value=left]").click()
    watch.check("the refused-judgment page")
    assert page.locator("[data-testid=kept-reason]").inner_text() == reason.strip()
    assert page.locator("#rejection script, #rejection img, #rejection svg, #rejection a").count() == 0

    # 400: over the project's limit; the form comes back with the reason as typed.
    project.max_reason_bytes = 64
    project.save()
    page.goto(f"{live_server.url}{url}")  # the next lease (the expired one was reclaimed)
    page.fill("textarea[name=reason]", reason)
    with page.expect_navigation():
        page.locator("button[value=left]").click()
    watch.check("the form with the reason's field error")
    assert "the project's limit is 64" in page.locator("[data-field=reason]").inner_text()
    assert page.locator("textarea[name=reason]").input_value() == reason.strip()
