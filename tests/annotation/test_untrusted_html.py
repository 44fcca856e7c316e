"""Model output and prompts are untrusted HTML: shown as text, never injected into the page.

The checks parse the HTML the browser would get (html.parser) rather than grepping strings:
what matters is which elements and attributes exist, and that the text reads as written.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests import platform_factories as factories
from webapp.annotation import services
from webapp.annotation.rendering import render_markdown

pytestmark = pytest.mark.django_db

HOSTILE = [
    "<script>alert('xss')</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    "[click me](javascript:alert(1))",
    '<iframe src="https://evil.example"></iframe>',
    "<svg onload=alert(1)>",
    '"><b onmouseover=alert(1)>hover</b>',
    "![pixel](https://evil.example/track.png)",
]
ACTIVE_TAGS = {"script", "img", "iframe", "svg", "object", "embed", "style", "link", "meta", "base", "form"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _assert_inert(
    elements: list[tuple[str, dict[str, str | None]]], allowed: set[tuple[str, str]] = frozenset()
) -> None:
    for tag, attrs in elements:
        if (tag, attrs.get("src") or attrs.get("href") or attrs.get("action") or "") in allowed:
            continue
        assert tag not in ACTIVE_TAGS, (tag, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in {"href", "src", "action", "formaction"}:
                assert not (value or "").strip().lower().startswith(("javascript:", "data:", "vbscript:")), (
                    tag,
                    name,
                    value,
                )


@pytest.mark.parametrize("payload", HOSTILE)
def test_render_markdown_emits_no_active_content(payload):
    _assert_inert(_parse(str(render_markdown(payload))).elements)


def test_raw_html_in_model_output_reads_as_text():
    page = _parse(str(render_markdown("<script>alert('xss')</script>")))
    assert "".join(page.text).strip() == "<script>alert('xss')</script>"


def test_guidelines_allow_simple_html_but_not_scripts():
    html = str(render_markdown("<b>bold</b><script>x()</script><img src=x onerror=y()>", allow_html=True))
    assert "<b>bold</b>" in html
    _assert_inert(_parse(html).elements)


def test_hostile_response_and_prompt_render_as_text_on_the_page(client, db):
    user = factories.make_user()
    project = factories.make_project(
        annotators=[user], guidelines="Read this <script>alert('guidelines')</script> carefully."
    )
    text_a = "<script>alert('a')</script>"
    text_b = '<img src=x onerror="alert(1)"> and [x](javascript:alert(2))'
    factories.make_comparison(
        project, prompt="<script>alert('prompt')</script> tell me", text_a=text_a, text_b=text_b
    )
    services.next_assignment(project, user)
    client.force_login(user)
    response = client.get(reverse("annotation:annotate", kwargs={"slug": project.slug}))
    page = _parse(response.content.decode())
    scripts = [attrs.get("src", "") for tag, attrs in page.elements if tag == "script"]
    # Only ours, each from a static file (no inline script); the page's features add their own files.
    assert scripts and all(src.startswith("/static/") and src.endswith(".js") for src in scripts), scripts
    assert {"/static/keys.js", "/static/annotate.js"} <= set(scripts)
    stylesheets = {("link", attrs["href"]) for tag, attrs in page.elements if tag == "link"}
    metas = {("meta", "") for tag, attrs in page.elements if tag == "meta"}
    forms = {
        ("form", attrs["action"])
        for tag, attrs in page.elements
        if tag == "form" and attrs["action"].startswith("/")
    }
    _assert_inert(
        page.elements, allowed={*(("script", src) for src in scripts), *stylesheets, *metas, *forms}
    )
    # ...and the annotator can still read exactly what the model wrote (raw view, as text).
    text = "".join(page.text)
    assert text_a in text and text_b in text
    assert "<script>alert('prompt')</script> tell me" in text
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_stored_text_that_is_not_valid_unicode_still_renders():
    # text stored before the import checks existed: a lone surrogate made nh3 raise (a 500 page)
    html = str(render_markdown("before \ud800 after\x00end"))
    assert "before \ufffd after\ufffdend" in html
