"""Project-level reads for the project page, and membership changes for the members page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count

from webapp.annotation.models import Comparison, Judgment
from webapp.catalog.models import PolicyVersion
from webapp.projects.models import Membership, Project
from webapp.projects.roles import Role
from webapp.rounds.models import TrainingRound


def project_overview(project: Project) -> dict[str, Any]:
    by_status = dict(
        Comparison.objects.filter(project=project)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    # What the next round trains on by default (round.judgments "new"): judgments since the last
    # finished round's snapshot.
    last_round = (
        TrainingRound.objects.filter(project=project, state=TrainingRound.State.DONE)
        .order_by("-number")
        .first()
    )
    judged_since = Judgment.objects.filter(comparison__project=project)
    if last_round is not None:
        judged_since = judged_since.filter(created__gt=last_round.created)
    return {
        "pending": by_status.get(Comparison.Status.PENDING, 0),
        "complete": by_status.get(Comparison.Status.COMPLETE, 0),
        "judgments": Judgment.objects.filter(comparison__project=project).count(),
        "judgments_since_last_round": judged_since.count(),
        "policies": PolicyVersion.objects.filter(project=project)
        .select_related("parent")
        .order_by("-number"),
        "rounds": TrainingRound.objects.filter(project=project)
        .select_related("policy_in", "policy_out")
        .order_by("-number")[:10],
        "active_round": TrainingRound.objects.filter(project=project)
        .exclude(state__in=TrainingRound.FINISHED)
        .first(),
    }


# --- members ---------------------------------------------------------------------------------


class MembershipError(ValueError):
    """A membership change refused; `field` names the form field, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def members(project: Project) -> list[Membership]:
    """The project's members with their roles, admins first, then by username."""
    order = {Role.ADMIN: 0, Role.ANNOTATOR: 1, Role.VIEWER: 2}
    rows = Membership.objects.filter(project=project).select_related("user")
    return sorted(rows, key=lambda m: (order.get(m.role, 3), m.user.get_username()))


def _role(role: str) -> str:
    if role not in Role.values:
        raise MembershipError("role", f"{role!r} is not a role; choose one of {', '.join(Role.values)}")
    return role


def _locked(project: Project, user_id: int) -> Membership:
    """The membership row, locked, after locking every admin row of the project: the rows the
    last-admin rule reads, so two admins demoting each other at once cannot both succeed."""
    list(Membership.objects.select_for_update().filter(project=project, role=Role.ADMIN).values_list("pk"))
    membership = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(project=project, user_id=user_id)
        .first()
    )
    if membership is None:
        raise MembershipError("user", "that user is not a member of this project")
    return membership


def _keep_an_admin(project: Project, leaving: Membership, by: AbstractBaseUser, field: str) -> None:
    """Refuse to take away the project's last admin, unless staff do it (staff manage every project)."""
    if leaving.role != Role.ADMIN or by.is_staff:
        return
    others = Membership.objects.filter(project=project, role=Role.ADMIN).exclude(pk=leaving.pk)
    if not others.exists():
        raise MembershipError(
            field, f"{leaving.user.get_username()} is the project's only admin; make someone else admin first"
        )


def add_member(project: Project, username: str, role: str) -> Membership:
    """Add an existing user to the project with `role`."""
    role = _role(role)
    username = username.strip()
    if not username:
        raise MembershipError("username", "enter the username of an existing account")
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is None:
        raise MembershipError("username", f"there is no account named {username!r}")
    with transaction.atomic():
        membership, made = Membership.objects.get_or_create(
            project=project, user=user, defaults={"role": role}
        )
    if not made:
        raise MembershipError(
            "username",
            f"{username} is already a member ({membership.get_role_display()}); change their role instead",
        )
    return membership


def change_role(project: Project, user_id: int, role: str, by: AbstractBaseUser) -> Membership:
    """Give a member another role; the last admin cannot stop being one (unless staff say so)."""
    role = _role(role)
    with transaction.atomic():
        membership = _locked(project, user_id)
        if role != Role.ADMIN:
            _keep_an_admin(project, membership, by, "role")
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def remove_member(project: Project, user_id: int, by: AbstractBaseUser) -> Membership:
    """Take a member out of the project (their judgments stay); never the last admin, unless staff do it."""
    with transaction.atomic():
        membership = _locked(project, user_id)
        _keep_an_admin(project, membership, by, "user")
        membership.delete()
    return membership


# --- settings --------------------------------------------------------------------------------

LIMIT_FIELDS = ("max_prompt_bytes", "max_response_bytes", "max_reason_bytes")
# What the settings page edits (its form's fields) and update_settings writes.
SETTINGS_FIELDS = ("name", "guidelines", "overlap", "license", *LIMIT_FIELDS, "training_config")


def update_settings(project: Project, values: dict[str, Any]) -> list[str]:
    """Write the settings page's fields (the form's cleaned data) and no others; the names of
    those that changed.

    An UPDATE of these columns only, not `project.save()`: the whole row, as read when the
    request began, would put back an active_policy that a deploy changed in the meantime."""
    fields = [name for name in SETTINGS_FIELDS if name in values]
    with transaction.atomic():
        current = Project.objects.select_for_update().values(*fields).get(pk=project.pk)
        changed = [name for name in fields if current[name] != values[name]]
        if changed:
            Project.objects.filter(pk=project.pk).update(**{name: values[name] for name in changed})
    return changed
