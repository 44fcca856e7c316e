"""Project list, project page (queue state, policy versions, rounds, start button), members and
settings pages."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from webapp.projects import services
from webapp.projects.forms import FORMS, AddMemberForm, ProjectSettingsForm, first_error
from webapp.projects.models import Project
from webapp.projects.permissions import (
    Capabilities,
    can_edit_settings,
    can_manage_members,
    can_view,
    project_for,
    visible_projects,
)
from webapp.projects.roles import Role


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = [(project, Capabilities(request.user, project)) for project in visible_projects(request.user)]
    return render(request, "projects/home.html", {"projects": projects})


@login_required
def detail(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug, check=can_view)
    context = services.project_overview(project)
    context.update(project=project, can=Capabilities(request.user, project))
    return render(request, "projects/detail.html", context)


def _members_page(
    request: HttpRequest, project: Project, error: str | None = None, status: int = 200
) -> HttpResponse:
    context = {
        "project": project,
        "can": Capabilities(request.user, project),
        "members": services.members(project),
        "roles": Role.choices,
        "add_form": _add_form(request),
        "error": error,
    }
    return render(request, "projects/members.html", context, status=status)


def _add_form(request: HttpRequest) -> AddMemberForm:
    """The add form, unbound, keeping what was typed when an add was refused."""
    if request.method == "POST" and request.POST.get("action") == "add":
        return AddMemberForm(initial={k: request.POST.get(k, "") for k in ("username", "role")})
    return AddMemberForm()


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def members(request: HttpRequest, slug: str) -> HttpResponse:
    """Members and their roles; POST `action` add, role or remove. A refusal changes nothing and
    says which field was wrong (400)."""
    project = project_for(request.user, slug, check=can_manage_members)
    if request.method != "POST":
        return _members_page(request, project)
    try:
        done = _apply(request, project)
    except services.MembershipError as exc:
        return _members_page(request, project, error=f"Nothing changed. {exc}", status=400)
    messages.success(request, done)
    if not can_manage_members(request.user, Project.objects.get(pk=project.pk)):  # demoted themselves
        return redirect("projects:detail", slug=slug)
    return redirect("projects:members", slug=slug)


def _apply(request: HttpRequest, project: Project) -> str:
    """Validate the POSTed form and make the change; what was done, in words."""
    action = request.POST.get("action", "")
    if action not in FORMS:
        raise services.MembershipError("action", f"{action!r} is not one of {', '.join(FORMS)}")
    form = FORMS[action](request.POST)
    if not form.is_valid():
        raise services.MembershipError(*first_error(form))
    data = form.cleaned_data
    if action == "add":
        added = services.add_member(project, data["username"], data["role"])
        return f"{added.user.get_username()} added as {added.get_role_display()}."
    if action == "role":
        changed = services.change_role(project, data["user"], data["role"], by=request.user)
        return f"{changed.user.get_username()} is now {changed.get_role_display()}."
    removed = services.remove_member(project, data["user"], by=request.user)
    return f"{removed.user.get_username()} removed from the project."


def _settings_page(
    request: HttpRequest, project: Project, form: ProjectSettingsForm, status: int = 200
) -> HttpResponse:
    context = {"project": project, "can": Capabilities(request.user, project), "form": form}
    return render(request, "projects/settings.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def project_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """The project's settings form; a POST with any bad field changes nothing and shows each
    field's error (400)."""
    project = project_for(request.user, slug, check=can_edit_settings)
    if request.method != "POST":
        return _settings_page(request, project, ProjectSettingsForm(instance=project))
    # A copy: validating writes the typed values onto the instance, and the page's header shows
    # the project as it is.
    form = ProjectSettingsForm(request.POST, instance=copy.copy(project))
    if not form.is_valid():
        return _settings_page(request, project, form, status=400)
    changed = services.update_settings(project, form.cleaned_data)
    if changed:
        labels = ", ".join(str(form[name].label).lower() for name in changed)
        messages.success(request, f"Settings saved ({labels}).")
    else:
        messages.info(request, "Nothing to save: the settings were already these.")
    return redirect("projects:settings", slug=slug)


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
