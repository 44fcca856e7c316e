"""/api/docs in real Chromium, with the real Content-Security-Policy and no internet: Swagger UI
renders every operation from this server's files, "Try it out" reaches the API, no request
leaves for another host, and the browser reports no CSP violation (a listener that reports any
`securitypolicyviolation` event is installed before the page's scripts run)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from webapp.api.api import api

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_swagger_ui_renders_offline_under_the_csp(page, live_server, transactional_db):
    host = urlparse(live_server.url).netloc
    elsewhere: list[str] = []

    def only_here(route) -> None:
        if urlparse(route.request.url).netloc == host:
            route.continue_()
        else:  # no internet: anything for another host is cut off (and fails the test)
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    page.goto(f"{live_server.url}/api/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "prefloop API" in page.inner_text(".swagger-ui .info .title")
    operations = page.locator(".opblock").count()
    expected = sum(len(methods) for methods in api.get_openapi_schema()["paths"].values())
    assert operations == expected
    # Try it out: the page's own request to the API (connect-src 'self'), answered 401 without a token.
    page.locator("#operations-projects-projects_list .opblock-summary").click()
    page.locator("#operations-projects-projects_list .try-out__btn").click()
    page.locator("#operations-projects-projects_list .execute").click()
    status = page.locator(
        "#operations-projects-projects_list .live-responses-table tr.response td.response-col_status"
    )
    status.first.wait_for()
    assert "401" in status.first.inner_text()
    assert elsewhere == []
    assert violations == []
