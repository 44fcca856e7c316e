"""The user's API tokens page (`/account/tokens/`): create one (shown once), list, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from webapp.api import tokens


def _page(request: HttpRequest, new_token: str | None = None, error: str = "", status: int = 200):
    context = {"tokens": tokens.tokens_of(request.user), "new_token": new_token, "error": error}
    response = render(request, "api/tokens.html", context, status=status)
    if new_token:
        response["Cache-Control"] = "no-store"  # the one page that shows the token: never cached
    return response


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def tokens_page(request: HttpRequest) -> HttpResponse:
    """Any signed-in user's own tokens. Creating one shows it on the answer to that POST, once:
    only its sha256 is kept, so it is in no redirect, session or message."""
    if request.method != "POST":
        return _page(request)
    action = request.POST.get("action")
    if action == "create":
        name = request.POST.get("name", "").strip()
        if len(name) > 100 or "\x00" in name:
            return _page(request, error="The name must be at most 100 characters.", status=400)
        _, token = tokens.create_token(request.user, name)
        return _page(request, new_token=token)
    if action == "revoke":
        try:
            row = tokens.revoke(request.POST.get("prefix", ""), user=request.user)
        except tokens.TokenError as exc:
            return _page(request, error=f"Nothing revoked: {exc}.", status=400)
        messages.success(request, f"Token {row.prefix}… revoked; it no longer authenticates.")
        return redirect("api_tokens")
    return _page(request, error="Unknown action.", status=400)
