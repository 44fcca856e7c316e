"""Who may do what in a project: every view asks here, and every answer comes from the table
in `roles.ACTIONS` (anonymous, non-member, viewer, annotator, project admin, staff).

A user's role in a project is read with the project (`project_for` and the queue's
`queue_sql.project_with_queue_view` add `user_role` to it), so a check costs no query of its
own; only "with export_preferences" cells ask Django's permission backends (cached per user).

Management commands are operator tools: whoever has a shell on the server has the database,
so they check nothing here and act with full rights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404

from webapp.projects.models import Membership, Project
from webapp.projects.roles import (
    ACTIONS,
    ANONYMOUS,
    EXPORT_PERMISSION,
    NON_MEMBER,
    STAFF,
    WITH_EXPORT_PERMISSION,
)

User = AbstractBaseUser | AnonymousUser
Check = Callable[[User, Project], bool]


def role_of(user: User, project: Project) -> str | None:
    """The user's role in the project, None for a non-member (read with the project when it can be)."""
    if hasattr(project, "user_role"):  # read by project_for or the queue's query, for this user
        return project.user_role
    return Membership.objects.filter(project=project, user=user.pk).values_list("role", flat=True).first()


def identity(user: User, project: Project) -> str:
    """The table's column for this user in this project."""
    if not user.is_authenticated:
        return ANONYMOUS
    if user.is_staff:
        return STAFF
    return role_of(user, project) or NON_MEMBER


def may(user: User, project: Project, action: str) -> bool:
    """Whether the table lets this user do `action` (a key of roles.ACTIONS) in this project."""
    cell = ACTIONS[action].cells[identity(user, project)]
    if cell == WITH_EXPORT_PERMISSION:
        return user.has_perm(EXPORT_PERMISSION)
    return cell is True


def _check(action: str) -> Check:
    def check(user: User, project: Project) -> bool:
        return may(user, project, action)

    check.__name__ = f"can_{action}"
    check.__doc__ = ACTIONS[action].label
    return check


can_view = _check("view")
can_annotate = _check("annotate")
can_export = _check("export")
can_see_annotators = _check("see_annotators")
can_manage_rounds = _check("manage_rounds")
can_manage_policies = _check("manage_policies")
can_manage_members = _check("manage_members")
can_see_tracebacks = _check("see_tracebacks")


def error_summary(error: str) -> str:
    """The first line of a stored error: what happened, in words (the traceback follows it)."""
    return error.strip().splitlines()[0] if error.strip() else ""


def error_for(user, project: Project, failed: Any) -> str:
    """The `.error` of a failed round or job as `user` may see it: staff the whole error with its
    traceback (server paths, code), everyone else its first line."""
    return failed.error if can_see_tracebacks(user, project) else error_summary(failed.error)


can_edit_settings = _check("edit_settings")
can_import_prompts = _check("import_prompts")


class Capabilities(Mapping[str, bool]):
    """What the user may do in the project, for templates (`{% if can.export %}`): each action
    of the table, answered on first use, so a page pays only for the buttons it shows."""

    def __init__(self, user: User, project: Project) -> None:
        self.user, self.project = user, project
        self._known: dict[str, bool] = {}

    def __getitem__(self, action: str) -> bool:
        if action not in ACTIONS:
            raise KeyError(action)
        if action not in self._known:
            self._known[action] = may(self.user, self.project, action)
        return self._known[action]

    def __iter__(self):
        return iter(ACTIONS)

    def __len__(self) -> int:
        return len(ACTIONS)


def _with_role(projects: QuerySet[Project], user: User) -> QuerySet[Project]:
    """`projects`, each with the user's role in it as `user_role` (NULL: not a member)."""
    role = Membership.objects.filter(project=OuterRef("pk"), user=user.pk).values("role")[:1]
    return projects.annotate(user_role=Subquery(role))


def project_for(user: User, slug: str, check: Check) -> Project:
    """The project by slug with the user's role read in the same query, or 404;
    PermissionDenied (403) when `check` refuses."""
    projects = Project.objects.all()
    if user.is_authenticated:
        projects = _with_role(projects, user)
    return allowed(user, get_object_or_404(projects, slug=slug), check)


def allowed(user: User, project: Project | None, check: Check) -> Project:
    """`project` when `check` allows it; Http404 for None, PermissionDenied (403) when refused."""
    if project is None:
        raise Http404("No such project.")
    if not check(user, project):
        raise PermissionDenied
    return project


def visible_projects(user: User) -> QuerySet[Project]:
    """The projects on the user's list, each with the user's role read with it: staff see all,
    everyone else the ones they belong to (one query, not one per project)."""
    projects = _with_role(Project.objects.order_by("name"), user)
    return projects if user.is_staff else projects.filter(user_role__isnull=False)
