"""What several browser tests do on a page: log in through the real login form."""

from __future__ import annotations

from tests import platform_factories as factories


def login(page, live_server, next_url: str, username: str = "ann") -> None:
    """Sign in as `username` (made with the factories' password) and land on `next_url`."""
    page.goto(f"{live_server.url}/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
