"""prefloop's URLs plus /bench/bare/: a JSON view through the same middleware, no database."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from webapp.config.urls import urlpatterns as prefloop_urls


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/bare/", bare), *prefloop_urls]
