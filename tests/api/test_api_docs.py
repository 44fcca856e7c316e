"""The interactive docs at /api/docs work offline and under the CSP: Swagger UI comes from
ninja's static files on this server, the page references no other host and has no inline
script, and it carries the site's policy unchanged."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from tests import platform_factories as factories

pytestmark = pytest.mark.django_db


def test_the_docs_page_loads_from_this_server_only(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="swagger-ui"' in html
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls)
    assert all(not urlparse(u).netloc and not u.startswith("//") for u in urls), urls
    assert "<script>" not in html.replace(" ", "")  # no inline script for the CSP to block
    for url in urls:
        served = client.get(url)
        assert served.status_code == 200, url
        body = b"".join(served.streaming_content) if served.streaming else served.content
        assert b"cdn.jsdelivr.net" not in body and b"unpkg.com" not in body, url
    settings_json = re.search(
        r'<script type="application/json" id="swagger-settings">(.*?)</script>', html, re.S
    )
    assert '"/api/openapi.json"' in settings_json.group(1)


def test_the_docs_page_keeps_the_sites_csp(client):
    """Swagger UI needs nothing more than the site's policy (the browser test runs it under it)."""
    docs = client.get("/api/docs")["Content-Security-Policy"]
    assert docs == client.get("/login/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in docs.split(";") if part.strip())
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"


def test_the_schema_is_served_and_names_the_bearer_scheme(client):
    schema = client.get("/api/openapi.json").json()
    assert schema["info"]["title"] == "prefloop API"
    assert schema["components"]["securitySchemes"]["TokenAuth"] == {"type": "http", "scheme": "bearer"}
    operations = [op for methods in schema["paths"].values() for op in methods.values()]
    assert operations and all(op.get("security") == [{"TokenAuth": []}] for op in operations)


def test_the_schema_and_docs_need_no_token_but_operations_do(client):
    assert client.get("/api/openapi.json").status_code == 200
    project = factories.make_project()
    assert client.get(f"/api/projects/{project.slug}").status_code == 401
