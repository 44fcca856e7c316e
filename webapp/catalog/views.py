"""The policy versions page, activating a version (roll back or forward), downloading one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from webapp.catalog.archive import tar_stream
from webapp.catalog.history import policy_history
from webapp.catalog.models import PolicyVersion
from webapp.projects.permissions import Capabilities, can_manage_policies, can_view, project_for
from webapp.rounds import services as round_services


@login_required
def policies(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug, check=can_view)
    return render(
        request,
        "catalog/policies.html",
        {
            "project": project,
            "rows": policy_history(project),
            "can": Capabilities(request.user, project),
        },
    )


@login_required
@require_POST
def activate(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    project = project_for(request.user, slug, check=can_manage_policies)
    try:
        policy = round_services.activate_policy(project, number)
    except round_services.RoundError as exc:
        messages.error(request, f"v{number} not activated: {exc}")
    else:
        messages.success(request, f"v{policy.number} is now serving; the next comparisons come from it.")
    return redirect("catalog:policies", slug=slug)


@login_required
def download(request: HttpRequest, slug: str, number: int) -> StreamingHttpResponse:
    """The checkpoint folder as a .tar, streamed (a 135M model is half a gigabyte)."""
    project = project_for(request.user, slug, check=can_manage_policies)
    policy = get_object_or_404(PolicyVersion, project=project, number=number)
    try:
        stream = tar_stream(policy.checkpoint, arcname=f"{project.slug}-v{number}")
    except FileNotFoundError as exc:
        raise Http404(f"v{number}'s checkpoint is missing") from exc
    response = StreamingHttpResponse(stream, content_type="application/x-tar")
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-v{number}.tar"'
    return response
