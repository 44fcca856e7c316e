"""The REST API: django-ninja, mounted at /api/ (schema /api/openapi.json, docs /api/docs).

Endpoints are thin: each finds the project through `permissions.project_for` with the check of
the web page that does the same thing, then calls the same service. Every answer is JSON, every
error `{"detail": "..."}` with a message that names the field or the item.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, ValidationError

from webapp.api.auth import TokenAuth
from webapp.api.endpoints import (
    annotation,
    exports,
    file_imports,
    imports,
    judgments,
    policies,
    projects,
    prompts,
    rounds,
)
from webapp.api.errors import ApiError, describe_location

# The docs page is Swagger UI from ninja's own static files (ninja is in INSTALLED_APPS), with no
# CDN and no inline script: it runs under the site's CSP unchanged (Swagger UI sets styles through
# the CSSOM, which style-src does not govern), checked in Chromium by
# tests/browser/test_api_docs_browser.py.
api = NinjaAPI(
    title="prefloop API",
    version="1",
    description=(
        "Feed and drain a prefloop project from scripts, or annotate from a custom front-end. "
        "Authenticate with `Authorization: Bearer <token>` (make one with `manage.py api_token "
        "--user NAME` or on /account/tokens/). Lists are paginated: pass the page's `next` as "
        '`cursor`. Errors are JSON `{"detail": "..."}` naming the field or the item.'
    ),
    auth=TokenAuth(),
    urls_namespace="api",
    docs=Swagger(settings={"persistAuthorization": False}),
)

for module in (projects, prompts, imports, file_imports, annotation, judgments, rounds, policies, exports):
    api.add_router("", module.router)


def _error(request: HttpRequest, status: int, detail: str, **extra) -> HttpResponse:
    return api.create_response(request, {"detail": detail, **extra}, status=status)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _error(request, exc.status, exc.detail, **exc.extra)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _error(request, 401, getattr(request, "api_auth_refusal", "not authenticated"))
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, str(exc) or "not found")


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, 403, str(exc) or "your role in this project does not allow this")


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """pydantic's errors, the first one as the message: `item 3, field 'choice': ...`."""
    errors = [
        {"where": describe_location(error.get("loc", ())), "problem": error.get("msg", "invalid")}
        for error in exc.errors
    ]
    first = errors[0] if errors else {"where": "the request", "problem": "invalid"}
    return _error(request, 422, f"{first['where']}: {first['problem']}", errors=errors)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return _error(request, 413, f"the request body is over {limit:,} bytes; send fewer items per request")
