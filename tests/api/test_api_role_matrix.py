"""Every API operation, as every identity, answers as the role table says (roles.ACTIONS).

Each operation of /api/openapi.json is listed in OPERATIONS with the action of the table that
guards it (the same as the web page that does the same thing) and the request to make; a new
operation missing here fails `test_the_matrix_lists_every_operation`. For each operation one
project is built (comparisons, judgments enough for a round, a running round, a policy version
with a checkpoint, a finished export, an open lease for each identity) and each identity asks,
with its own token, in a savepoint rolled back afterwards:
allowed: the operation's own success status; no token: 401; a token of a user who is not in the
project: 404 (a project they may not see does not exist for them); a member whose role may not:
403. Every refusal leaves the rows a write could change as they were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import F
from django.urls import URLPattern, URLResolver
from django.utils import timezone

from tests import platform_factories as factories
from webapp.annotation.models import Assignment, Comparison, Judgment
from webapp.api.api import api
from webapp.catalog.models import PolicyVersion, Prompt, Response
from webapp.datasets.models import ExportJob, ImportJob
from webapp.projects.models import Membership, Project
from webapp.projects.roles import ACTIONS, ANONYMOUS, NON_MEMBER, STAFF, WITH_EXPORT_PERMISSION, Role
from webapp.rounds.models import TrainingRound

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass(frozen=True)
class Identity:
    name: str
    column: str
    export_permission: bool = False


IDENTITIES = [
    Identity("no token", ANONYMOUS),
    Identity("token of a user not in the project", NON_MEMBER),
    Identity("not in the project, with export_preferences", NON_MEMBER, export_permission=True),
    Identity("viewer", Role.VIEWER.value),
    Identity("viewer with export_preferences", Role.VIEWER.value, export_permission=True),
    Identity("annotator", Role.ANNOTATOR.value),
    Identity("annotator with export_preferences", Role.ANNOTATOR.value, export_permission=True),
    Identity("project admin", Role.ADMIN.value),
    Identity("staff", STAFF),
]


def expected(identity: Identity, action: str) -> bool:
    cell = ACTIONS[action].cells[identity.column]
    return cell is True or (cell == WITH_EXPORT_PERMISSION and identity.export_permission)


@dataclass
class World:
    project: Project
    tokens: dict[str, str | None]
    leases: dict[str, Assignment]
    export: ExportJob
    import_job: ImportJob


@dataclass(frozen=True)
class Operation:
    """One API operation: the action that guards it, the request, and its success status."""

    action: str
    method: str
    path: str  # {slug}, {lease}, {export}, {import} filled in per identity
    ok: int
    body: dict[str, Any] | Callable[[], dict[str, Any]] | None = None
    query: dict[str, str] = field(default_factory=dict)
    multipart: bool = False  # the body is a form with a file, not JSON


def _upload() -> dict[str, Any]:
    """A multipart body with a file: a callable, as an uploaded file is read once."""
    return {
        "file": SimpleUploadedFile("new.jsonl", b'{"prompt": "a file via the API?"}\n'),
        "kind": "prompts",
    }


OPERATIONS: dict[str, Operation] = {
    "projects_list": Operation("list_projects", "GET", "/api/projects", 200),
    "projects_detail": Operation("view", "GET", "/api/projects/{slug}", 200),
    "prompts_create": Operation(
        "import_prompts",
        "POST",
        "/api/projects/{slug}/prompts",
        201,
        {"prompts": [{"prompt": "via the API?"}]},
    ),
    "comparisons_create": Operation(
        "import_prompts",
        "POST",
        "/api/projects/{slug}/comparisons",
        201,
        {
            "comparisons": [
                {
                    "prompt": "outside?",
                    "responses": [{"model": "m1", "text": "one"}, {"model": "m2", "text": "two"}],
                }
            ]
        },
    ),
    "preferences_create": Operation(
        "import_prompts",
        "POST",
        "/api/projects/{slug}/preferences",
        201,
        {"format": "trl-standard", "preferences": [{"prompt": "p?", "chosen": "yes", "rejected": "no"}]},
    ),
    "assignments_next": Operation("annotate", "POST", "/api/projects/{slug}/assignments/next", 200),
    "assignments_judge": Operation(
        "annotate",
        "POST",
        "/api/projects/{slug}/assignments/{lease}/judgment",
        201,
        {"choice": "left", "strength": 2, "reason": "clearer", "seconds_spent": 3.5},
    ),
    "assignments_skip": Operation("annotate", "POST", "/api/projects/{slug}/assignments/{lease}/skip", 200),
    "judgments_list": Operation("export", "GET", "/api/projects/{slug}/judgments", 200, query={"round": "1"}),
    "rounds_list": Operation("view", "GET", "/api/projects/{slug}/rounds", 200),
    "rounds_start": Operation(
        "manage_rounds", "POST", "/api/projects/{slug}/rounds", 201, {"overrides": {"reward": {"epochs": 1}}}
    ),
    "rounds_status": Operation("view", "GET", "/api/projects/{slug}/rounds/1", 200),
    "rounds_cancel": Operation("manage_rounds", "POST", "/api/projects/{slug}/rounds/2/cancel", 200),
    "policies_list": Operation("view", "GET", "/api/projects/{slug}/policies", 200),
    "policies_activate": Operation(
        "manage_policies", "POST", "/api/projects/{slug}/policies/1/activate", 200
    ),
    "imports_start": Operation(
        "import_prompts", "POST", "/api/projects/{slug}/imports", 201, _upload, multipart=True
    ),
    "imports_status": Operation("import_prompts", "GET", "/api/projects/{slug}/imports/{import}", 200),
    "exports_start": Operation("export", "POST", "/api/projects/{slug}/exports", 201, {"fmt": "trl"}),
    "exports_status": Operation("export", "GET", "/api/projects/{slug}/exports/{export}", 200),
    "exports_download": Operation("export", "GET", "/api/projects/{slug}/exports/{export}/download", 200),
    "exports_card": Operation("export", "GET", "/api/projects/{slug}/exports/{export}/card", 200),
}


def schema_operations() -> dict[str, tuple[str, str]]:
    """operationId -> (method, path) of every operation /api/openapi.json lists."""
    schema = api.get_openapi_schema()
    return {
        op["operationId"]: (method.upper(), path)
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
    }


def test_the_matrix_lists_every_operation(client):
    """The schema served at /api/openapi.json and this matrix name the same operations, with the
    same method and path: an endpoint added without a row here fails."""
    served = client.get("/api/openapi.json").json()
    listed = {
        op["operationId"]: (method.upper(), path)
        for path, methods in served["paths"].items()
        for method, op in methods.items()
    }
    assert listed == schema_operations()
    assert set(listed) - set(OPERATIONS) == set(), "API operations the matrix does not classify"
    assert set(OPERATIONS) - set(listed) == set(), "the matrix names operations the API lacks"
    for name, operation in OPERATIONS.items():
        path = operation.path.replace("{lease}", "{assignment_id}").replace("{export}", "{job_id}")
        path = path.replace("{import}", "{job_id}")
        path = path.replace("/rounds/1", "/rounds/{number}").replace("/rounds/2/", "/rounds/{number}/")
        path = path.replace("/policies/1/", "/policies/{number}/")
        assert listed[name] == (operation.method, path), name
        assert operation.action in ACTIONS, name


def test_every_api_url_is_an_operation_or_the_docs():
    """Nothing under /api/ escapes the two matrices: the operations (here) and the docs, schema
    and root (tests/projects/test_role_matrix.py)."""
    patterns, _, _ = api.urls
    names = set()
    for pattern in patterns:
        assert isinstance(pattern, (URLPattern, URLResolver))
        names.add(pattern.name)
    docs = {"openapi-json", "openapi-view", "api-root"}
    assert {name for name in names if name not in docs} == set(schema_operations())


def _lease(comparison: Comparison, user) -> Assignment:
    Comparison.objects.filter(pk=comparison.pk).update(leased=F("leased") + 1)
    return Assignment.objects.create(
        comparison=comparison, annotator=user, swapped=False, expires=timezone.now() + timedelta(minutes=30)
    )


def build(tmp_path: Path) -> World:
    checkpoint = tmp_path / "v1"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{}")
    project = factories.project_with_comparisons(count=9)
    factories.make_round(project, 1)  # done: the next round trains on what was judged since
    factories.judge_all(project)  # 9 usable pairs: a round may start (round.min_pairs is 8)
    factories.make_policy(project, 1, checkpoint=str(checkpoint), status=PolicyVersion.Status.READY)
    other = factories.make_project("other")
    export = Permission.objects.get(codename="export_preferences", content_type__app_label="projects")
    tokens: dict[str, str | None] = {"no token": None}
    users: dict[str, Any] = {}
    for identity in IDENTITIES[1:]:
        user = factories.make_user(staff=identity.column == STAFF)
        if identity.column == NON_MEMBER:
            Membership.objects.create(project=other, user=user)
        elif identity.column != STAFF:
            Membership.objects.create(project=project, user=user, role=identity.column)
        if identity.export_permission:
            user.user_permissions.add(export)
        users[identity.name] = user
        tokens[identity.name] = factories.make_token(user)
    leases = {}
    for identity in IDENTITIES:
        comparison = factories.make_comparison(project, policy=project.active_policy)
        leases[identity.name] = _lease(comparison, users.get(identity.name) or users["annotator"])
    job = factories.make_export_job(project, tmp_path / "export")
    import_job = factories.make_import_job(project, tmp_path / "import")
    return World(project, tokens, leases, job, import_job)


def snapshot(project: Project) -> tuple:
    """What an API write can change."""
    project.refresh_from_db()
    return (
        Prompt.objects.count(),
        Response.objects.count(),
        sorted(Comparison.objects.values_list("pk", "status", "judged", "leased")),
        Judgment.objects.count(),
        sorted(Assignment.objects.values_list("pk", "completed", "outcome")),
        sorted(TrainingRound.objects.values_list("pk", "state", "attempt")),
        sorted(PolicyVersion.objects.values_list("pk", "status")),
        project.active_policy_id,
        ExportJob.objects.count(),
        ImportJob.objects.count(),
    )


def ask(world: World, name: str, identity: Identity):
    operation = OPERATIONS[name]
    path = operation.path.format(
        slug=world.project.slug,
        lease=world.leases[identity.name].pk,
        export=world.export.pk,
        **{"import": world.import_job.pk},
    )
    client = factories.api_client(world.tokens[identity.name])
    if operation.method == "GET":
        return client.get(path, operation.query)
    body = operation.body() if callable(operation.body) else operation.body
    if operation.multipart:
        return client.post(path, body)
    return client.post(path, json.dumps(body or {}), content_type="application/json")


def _running_round(project: Project) -> None:
    TrainingRound.objects.create(project=project, number=2, state=TrainingRound.State.REWARD)


SETUP: dict[str, Callable[[Project], None]] = {"rounds_cancel": _running_round}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_identity_gets_what_the_table_says(name, tmp_path):
    world = build(tmp_path)
    operation = OPERATIONS[name]
    wrong = []
    for identity in IDENTITIES:
        with transaction.atomic():
            SETUP.get(name, lambda project: None)(world.project)
            before = snapshot(world.project)
            response = ask(world, name, identity)
            after = snapshot(world.project)
            transaction.set_rollback(True)
        status = response.status_code
        is_json = response.get("Content-Type", "").startswith("application/json")
        if expected(identity, operation.action):
            ok = status == operation.ok
            if name == "projects_list":  # allowed to everyone signed in; lists only their projects
                slugs = [p["slug"] for p in response.json()["items"]]
                ok = ok and (world.project.slug in slugs) == (identity.column != NON_MEMBER)
        elif identity.column == ANONYMOUS:
            ok = status == 401 and is_json and "Authorization" in response.json()["detail"]
        elif identity.column == NON_MEMBER:
            ok = status == 404 and is_json
        else:
            ok = status == 403 and is_json
        if not expected(identity, operation.action) and before != after:
            ok = False
        if not ok:
            changed = "" if before == after else ", and it changed rows"
            wrong.append(
                f"{identity.name}: {status}{changed} (allowed: {expected(identity, operation.action)}) "
                f"{response.content[:200]!r}"
            )
    assert not wrong, f"{operation.method} {operation.path} ({operation.action}):\n" + "\n".join(wrong)


def test_allowed_writes_do_what_they_say(tmp_path):
    """The matrix checks that refusals change nothing; here, that allowed writes change something."""
    world = build(tmp_path)
    admin = "project admin"
    assert ask(world, "assignments_judge", WHO["annotator"]).status_code == 201
    assert Judgment.objects.filter(comparison=world.leases["annotator"].comparison, reason="clearer").exists()
    assert ask(world, "policies_activate", WHO[admin]).status_code == 200
    world.project.refresh_from_db()
    assert world.project.active_policy.number == 1
    for name, check in [
        ("prompts_create", lambda: Prompt.objects.filter(conversation__0__content="via the API?").exists()),
        ("comparisons_create", lambda: Response.objects.filter(model_name="m2", text="two").exists()),
        ("preferences_create", lambda: Judgment.objects.filter(source="trl-standard:api").count() == 1),
        ("rounds_start", lambda: TrainingRound.objects.filter(project=world.project, number=2).exists()),
        ("exports_start", lambda: ExportJob.objects.count() == 2),
        ("imports_start", lambda: ImportJob.objects.filter(name="new.jsonl", status="queued").exists()),
    ]:
        assert ask(world, name, WHO[admin]).status_code == OPERATIONS[name].ok, name
        assert check(), name


WHO = {identity.name: identity for identity in IDENTITIES}
