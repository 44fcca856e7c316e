"""Who may do what in a project. Three roles: annotator, exporter, manager (staff)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from webapp.projects.models import Project

User = AbstractBaseUser | AnonymousUser


def can_annotate(user: User, project: Project) -> bool:
    if not user.is_authenticated:
        return False
    return user.is_staff or project.annotators.filter(pk=user.pk).exists()


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
    project = get_object_or_404(Project, slug=slug)
    if not check(user, project):
        raise PermissionDenied
    return project
