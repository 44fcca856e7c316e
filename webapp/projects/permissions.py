"""Who may do what in a project. Three roles: annotator, exporter, manager (staff)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import get_object_or_404

from webapp.projects.models import Project

User = AbstractBaseUser | AnonymousUser


def can_annotate(user: User, project: Project) -> bool:
    if not user.is_authenticated:
        return False
    member = getattr(project, "viewer_is_member", None)  # read with the project by project_for
    if member is None:
        member = project.annotators.filter(pk=user.pk).exists()
    return user.is_staff or member


def can_manage(user: User, project: Project) -> bool:
    """Start and cancel rounds, edit settings."""
    return bool(user.is_authenticated and user.is_staff)


def can_export(user: User, project: Project) -> bool:
    """Export preference data: staff, or a member of this project granted the export permission
    (the permission is global in Django's model; the membership makes it per project)."""
    if not user.is_authenticated:
        return False
    return user.is_staff or (user.has_perm("projects.export_preferences") and can_annotate(user, project))


def project_for(user: User, slug: str, check=can_annotate) -> Project:
    """The project by slug, or 404; PermissionDenied (403) when `check` refuses."""
    projects = Project.objects.all()
    if user.is_authenticated:  # membership read in the same query: one query per page for it
        member = Project.annotators.through.objects.filter(project=OuterRef("pk"), user=user.pk)
        projects = projects.annotate(viewer_is_member=Exists(member))
    return allowed(user, get_object_or_404(projects, slug=slug), check)


def allowed(user: User, project: Project | None, check=can_annotate) -> Project:
    """`project` when `check` allows it; Http404 for None, PermissionDenied (403) when refused."""
    if project is None:
        raise Http404("No such project.")
    if not check(user, project):
        raise PermissionDenied
    return project
