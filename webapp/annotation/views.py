"""Annotator pages: show the next comparison, take the judgment, redirect (POST-redirect-GET).

Thin on purpose: every queue rule lives in `annotation.services`.
"""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from webapp.annotation import services
from webapp.annotation.forms import JudgmentForm
from webapp.annotation.models import Assignment, Judgment
from webapp.projects.models import Project
from webapp.projects.permissions import project_for

# Model output is untrusted: even if something slipped past escaping and nh3, the browser
# runs no inline script, loads nothing from elsewhere and posts forms only to us.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

SHOWN_LABELS = {"left": "A is better", "right": "B is better", "tie": "a tie", "both_bad": "both bad"}


def _with_csp(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def _page(
    request: HttpRequest, project: Project, assignment: Assignment, form: JudgmentForm, status: int = 200
) -> HttpResponse:
    comparison = assignment.comparison
    left, right = comparison.response_a, comparison.response_b
    if assignment.swapped:
        left, right = right, left
    stats = services.queue_stats(project, request.user)
    context: dict[str, Any] = {
        "project": project,
        "assignment": assignment,
        "comparison": comparison,
        "conversation": comparison.prompt.conversation,
        "left": left,
        "right": right,
        "sides": [("left", left, "A"), ("right", right, "B")],
        "form": form,
        "strengths": Judgment.Strength.choices,
        "selected_strength": str(form["strength"].value() or Judgment.Strength.CLEAR),
        "stats": stats,
        # First visit: guidelines open; afterwards folded away.
        "guidelines_open": stats.get("user_total", 0) == 0,
    }
    return _with_csp(render(request, "annotation/annotate.html", context, status=status))


@login_required
@require_http_methods(["GET", "HEAD"])
def annotate(request: HttpRequest, slug: str) -> HttpResponse:
    """The next comparison for this annotator (the same one again on refresh), or the empty page."""
    project = project_for(request.user, slug)
    assignment = services.next_assignment(project, request.user)
    if assignment is None:
        stats = services.queue_stats(project, request.user)
        return _with_csp(render(request, "annotation/empty.html", {"project": project, "stats": stats}))
    return _page(request, project, assignment, JudgmentForm())


def _own_assignment(project: Project, request: HttpRequest, assignment_id: int) -> Assignment:
    assignment = (
        Assignment.objects.select_related("comparison__prompt", "comparison__response_a", "comparison__response_b")
        .filter(pk=assignment_id, annotator=request.user, comparison__project=project)
        .first()
    )
    if assignment is None:
        raise Http404("No such assignment of yours in this project.")
    return assignment


@login_required
@require_POST
def submit(request: HttpRequest, slug: str, assignment_id: int) -> HttpResponse:
    """Store a judgment and redirect to the next comparison; re-show the form on invalid input."""
    project = project_for(request.user, slug)
    assignment = _own_assignment(project, request, assignment_id)
    next_url = reverse("annotation:annotate", kwargs={"slug": project.slug})
    form = JudgmentForm(request.POST)
    if not form.is_valid():
        return _page(request, project, assignment, form, status=400)
    data = form.cleaned_data
    try:
        services.submit_judgment(
            assignment.pk,
            request.user,
            data["choice"],
            strength=data["strength"],
            reason=data["reason"],
            seconds_spent=data["seconds_spent"],
        )
    except services.AlreadyJudged:
        messages.warning(request, "You had already judged that comparison; your first judgment stands.")
        return HttpResponseRedirect(next_url)
    strength = Judgment.Strength(data["strength"]).label.lower()
    if data["choice"] in ("left", "right"):
        messages.success(request, f"Saved: {SHOWN_LABELS[data['choice']]} ({strength}).")
    else:
        messages.success(request, f"Saved: {SHOWN_LABELS[data['choice']]}.")
    return HttpResponseRedirect(next_url)


@login_required
@require_POST
def skip(request: HttpRequest, slug: str, assignment_id: int) -> HttpResponse:
    """Hand the comparison back unjudged; someone else will get it."""
    project = project_for(request.user, slug)
    assignment = _own_assignment(project, request, assignment_id)
    services.skip_assignment(assignment.pk, request.user)
    messages.info(request, "Skipped.")
    return redirect("annotation:annotate", slug=project.slug)
