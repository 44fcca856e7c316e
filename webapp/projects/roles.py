"""Who may do what: the role × action table, the one source of truth.

`permissions.py` answers every check from `ACTIONS`, README.md's table is `markdown_table()`
(tests/projects/test_readme_roles.py keeps them equal), and tests/projects/test_role_matrix.py
requests every URL of the URLconf as every identity and compares the answers with it. A URL
that no action lists fails that test, so a new page cannot skip the table.

Print the README table: `python -m webapp.projects.roles`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from django.db import models


class Role(models.TextChoices):
    """A member's role in one project (`Membership.role`)."""

    ADMIN = "admin", "project admin"
    ANNOTATOR = "annotator", "annotator"
    VIEWER = "viewer", "viewer"


# The roles the annotation queue leases comparisons to (queue_sql reads this too).
QUEUE_ROLES: tuple[str, ...] = (Role.ANNOTATOR.value, Role.ADMIN.value)

# Columns: who is asking, as far as one project is concerned.
ANONYMOUS, NON_MEMBER, STAFF = "anonymous", "non-member", "staff"
IDENTITIES: tuple[str, ...] = (
    ANONYMOUS,
    NON_MEMBER,
    Role.VIEWER.value,
    Role.ANNOTATOR.value,
    Role.ADMIN.value,
    STAFF,
)
HEADINGS = {
    ANONYMOUS: "anonymous",
    NON_MEMBER: "signed in, not a member",
    **{role.value: role.label for role in Role},
    STAFF: "staff",
}

# A cell: allowed, refused, or allowed when the user also holds the global permission.
WITH_EXPORT_PERMISSION = "with export_preferences"
EXPORT_PERMISSION = "projects.export_preferences"
Cell = bool | Literal["with export_preferences"]
Method = Literal["GET", "POST"]


@dataclass(frozen=True)
class Action:
    """One row: what it lets you do, who may, and the URLs (by name) it guards.

    `urls` maps a URL name to the methods it answers; a POST-only URL answers GET with 405 to
    everyone, so only its POST is guarded. An action without URLs is a part of a page (a
    button, a table) or a command.
    """

    label: str
    cells: dict[str, Cell]
    urls: dict[str, tuple[Method, ...]] = field(default_factory=dict)


def _row(*allowed: str, **special: Cell) -> dict[str, Cell]:
    """Cells of a row: True for `allowed`, False for the others, except `special`."""
    cells: dict[str, Cell] = {who: who in allowed for who in IDENTITIES}
    cells.update({key.replace("_", "-"): value for key, value in special.items()})
    return cells


MEMBERS = (Role.VIEWER.value, Role.ANNOTATOR.value, Role.ADMIN.value, STAFF)
ANNOTATORS = (Role.ANNOTATOR.value, Role.ADMIN.value, STAFF)
MANAGERS = (Role.ADMIN.value, STAFF)

ACTIONS: dict[str, Action] = {
    "sign_in": Action(
        "log in, log out, health check, read the API's docs and schema",
        _row(*IDENTITIES),
        {
            "login": ("GET", "POST"),
            "logout": ("POST",),
            "healthz": ("GET",),
            "api:openapi-json": ("GET",),
            "api:openapi-view": ("GET",),
            "api:api-root": ("GET",),  # ninja's: a 404 that names the docs' URL
        },
    ),
    "api_tokens": Action(
        "create, list and revoke your own API tokens (the API then asks this table, as the pages do)",
        _row(NON_MEMBER, *MEMBERS),
        {"api_tokens": ("GET", "POST")},
    ),
    "list_projects": Action(
        "list your projects (staff: all)",
        _row(NON_MEMBER, *MEMBERS),
        {"home": ("GET",)},
    ),
    "view": Action(
        "see the project, its rounds and their progress, policy versions, queue stats",
        _row(*MEMBERS),
        {
            "projects:detail": ("GET",),
            "rounds:list": ("GET",),
            "rounds:detail": ("GET",),
            "rounds:progress": ("GET",),
            "rounds:summary": ("GET",),
            "catalog:policies": ("GET",),
            "annotation:stats": ("GET",),
        },
    ),
    "annotate": Action(
        "be leased comparisons, judge and skip them",
        _row(*ANNOTATORS),
        {"annotation:annotate": ("GET",), "annotation:submit": ("POST",), "annotation:skip": ("POST",)},
    ),
    "export": Action(
        "export preference data (start export jobs, follow and download them)",
        _row(*MANAGERS, viewer=WITH_EXPORT_PERMISSION, annotator=WITH_EXPORT_PERMISSION),
        {
            "datasets:export": ("GET", "POST"),
            "datasets:export_progress": ("GET",),
            "datasets:export_download": ("GET",),
            "datasets:export_card": ("GET",),
        },
    ),
    "see_annotators": Action(
        "see each annotator's judgment counts (stats page)",
        _row(*MANAGERS),
    ),
    "manage_rounds": Action(
        "start, cancel and retry training rounds",
        _row(*MANAGERS),
        {"rounds:start": ("POST",), "rounds:cancel": ("POST",), "rounds:retry": ("POST",)},
    ),
    "manage_policies": Action(
        "activate (roll back or forward) and download policy versions",
        _row(*MANAGERS),
        {"catalog:activate": ("POST",), "catalog:download": ("GET",)},
    ),
    "manage_members": Action(
        "add and remove members, change their roles",
        _row(*MANAGERS),
        {"projects:members": ("GET", "POST")},
    ),
    "see_tracebacks": Action(
        "see a failed round's or export's traceback (others: its first line)",
        _row(STAFF),
    ),
    "edit_settings": Action(
        "edit the project's settings: name, guidelines, overlap, size limits, training config",
        _row(*MANAGERS),
        {"projects:settings": ("GET", "POST")},
    ),
    "import_prompts": Action(
        "import prompts, preferences judged elsewhere and comparisons to judge (a file)",
        _row(*MANAGERS),
        {"datasets:import_prompts": ("GET", "POST"), "datasets:import_progress": ("GET",)},
    ),
    "operate": Action(
        "the rest of the Django admin (slug, base model, users), `manage.py`",
        _row(STAFF),
    ),
}


def _cell(value: Cell) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return f"with `{EXPORT_PERMISSION.split('.')[1]}`"


def markdown_table() -> str:
    """README.md's table of roles × actions, rendered from ACTIONS."""
    lines = [
        "| action | " + " | ".join(HEADINGS[who] for who in IDENTITIES) + " |",
        "|---|" + "---|" * len(IDENTITIES),
    ]
    for action in ACTIONS.values():
        lines.append(
            f"| {action.label} | " + " | ".join(_cell(action.cells[who]) for who in IDENTITIES) + " |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
