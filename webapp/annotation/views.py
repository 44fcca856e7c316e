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
from webapp.annotation.my_numbers import my_numbers
from webapp.projects.models import Project
from webapp.projects.permissions import Capabilities, allowed, can_annotate, can_view, project_for

SHOWN_LABELS = {"left": "A is better", "right": "B is better", "tie": "a tie", "both_bad": "both bad"}


def _page(
    request: HttpRequest,
    project: Project,
    assignment: Assignment,
    form: JudgmentForm,
    status: int = 200,
    rejection: dict[str, str] | None = None,
) -> HttpResponse:
    comparison = assignment.comparison
    left, right = comparison.response_a, comparison.response_b
    if assignment.swapped:
        left, right = right, left
    mine = services.progress(services.queue_view(project, request.user))
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
        "progress": mine,
        # First visit: guidelines open; afterwards folded away.
        "guidelines_open": not mine.judged_before,
        "rejection": rejection,
        "can": Capabilities(request.user, project),
    }
    return render(request, "annotation/annotate.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD"])
def annotate(request: HttpRequest, slug: str) -> HttpResponse:
    """The next comparison for this annotator (the same one again on refresh), or the empty page."""
    return _next_page(request, _queue_project(request, slug))


def _queue_project(request: HttpRequest, slug: str) -> Project:
    """The project, with the user's place in its queue read in the same query."""
    return allowed(request.user, services.queue_project(slug, request.user), check=can_annotate)


def _next_page(
    request: HttpRequest, project: Project, status: int = 200, rejection: dict[str, str] | None = None
):
    assignment = services.next_assignment(
        project, request.user, view=services.queue_view(project, request.user)
    )
    if assignment is None:
        stats = services.queue_stats(project, request.user)
        context = {
            "project": project,
            "stats": stats,
            "rejection": rejection,
            "can": Capabilities(request.user, project),
        }
        return render(request, "annotation/empty.html", context, status=status)
    return _page(request, project, assignment, JudgmentForm(), status=status, rejection=rejection)


def _rejected(request: HttpRequest, project: Project, message: str, status: int) -> HttpResponse:
    """A judgment that cannot be stored: say why, keep what they typed, show what is next."""
    rejection = {"message": message, "reason": request.POST.get("reason", "").strip()}
    return _next_page(request, project, status=status, rejection=rejection)


def _own_assignment(project: Project, request: HttpRequest, assignment_id: int) -> Assignment | None:
    return (
        Assignment.objects.select_related(
            "comparison__prompt", "comparison__response_a", "comparison__response_b"
        )
        .filter(pk=assignment_id, annotator=request.user, comparison__project=project)
        .first()
    )


NOT_YOURS = "That comparison is not assigned to you in this project, so nothing was stored."


def _invalid(request: HttpRequest, slug: str, assignment_id: int, form: JudgmentForm) -> HttpResponse:
    """The same pair again with the form's errors and what was typed (400)."""
    project = _queue_project(request, slug)
    assignment = _own_assignment(project, request, assignment_id)
    if assignment is None:
        return _rejected(request, project, NOT_YOURS, status=404)
    return _page(request, project, assignment, form, status=400)


@login_required
@require_POST
def submit(request: HttpRequest, slug: str, assignment_id: int) -> HttpResponse:
    """Store a judgment and redirect to the next comparison; re-show the form on invalid input.

    Refusals store nothing and lose nothing: invalid input re-shows the same pair with the
    errors and the typed reason (400); a foreign assignment (404) or a stale one (409: the lease
    expired, was skipped, or the comparison was withdrawn) shows the message, the typed reason
    and the next pair.
    """
    form = JudgmentForm(request.POST)
    if not form.is_valid():
        return _invalid(request, slug, assignment_id, form)
    next_url = reverse("annotation:annotate", kwargs={"slug": slug})
    data = form.cleaned_data
    try:
        # The membership check is part of the locked read: no separate query for the project.
        services.submit_judgment(
            assignment_id,
            request.user,
            data["choice"],
            strength=data["strength"],
            reason=data["reason"],
            seconds_spent=data["seconds_spent"],
            project_slug=slug,
        )
    except services.InvalidReason as exc:  # over the project's limit: the reason field says so
        form.add_error("reason", f"{exc.problem}; shorten it. Nothing was stored.")
        return _invalid(request, slug, assignment_id, form)
    except services.AlreadyJudged:
        messages.warning(request, "You had already judged that comparison; your first judgment stands.")
        return HttpResponseRedirect(next_url)
    except services.NotYourAssignment:  # 404 or 403 here when the project is why
        return _rejected(request, _queue_project(request, slug), NOT_YOURS, status=404)
    except services.StaleAssignment as exc:
        return _rejected(
            request, _queue_project(request, slug), f"Not saved: {exc}. Nothing was stored.", status=409
        )
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
    project = project_for(request.user, slug, check=can_annotate)
    assignment = _own_assignment(project, request, assignment_id)
    if assignment is None:
        raise Http404("No such assignment of yours in this project.")
    services.skip_assignment(assignment.pk, request.user)
    messages.info(request, "Skipped.")
    return redirect("annotation:annotate", slug=project.slug)


@login_required
@require_http_methods(["GET", "HEAD"])
def stats(request: HttpRequest, slug: str) -> HttpResponse:
    """Queue state and inter-annotator agreement, the annotator's own numbers; the per-annotator
    table for project admins and staff."""
    project = project_for(request.user, slug, check=can_view)
    can = Capabilities(request.user, project)
    context = {
        "project": project,
        "stats": services.queue_stats(project, request.user),
        "agreement": services.agreement(project),
        # The annotator's own numbers here, not on the annotate page: that page has a query budget.
        "mine": my_numbers(project, request.user) if can["annotate"] else None,
        "can": can,
    }
    return render(request, "annotation/stats.html", context)
