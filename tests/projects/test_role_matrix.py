"""Every URL of the URLconf, as every identity, answers as the role table says (roles.ACTIONS).

The URLs come from walking webapp.config.urls (the Django admin and static files aside), so a
new page that the table does not list fails `test_the_table_lists_every_url`. For each URL and
method one project is built (a policy version with a checkpoint, a comparison, a round, an open
lease for each identity) and each identity asks in a savepoint that is rolled back afterwards:
allowed, the answer is neither 403 nor a redirect to the login page; refused, it is 403
(anonymous: a redirect to the login page), and the rows a POST could change are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import F
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone

from tests import platform_factories as factories
from webapp.annotation.models import Assignment, Comparison, Judgment
from webapp.catalog.models import PolicyVersion, Prompt
from webapp.config import urls as root_urls
from webapp.datasets.models import ExportJob, ImportJob
from webapp.projects.models import Membership, Project
from webapp.projects.roles import ACTIONS, ANONYMOUS, NON_MEMBER, STAFF, WITH_EXPORT_PERMISSION, Role
from webapp.rounds.models import TrainingRound

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 at production strength costs ~0.3 s per user; each test makes nine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def walk(patterns, prefix: str = "", namespace: str | None = None):
    """(URL name with its namespace, route) of every pattern, the admin's and static files' aside."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if route.startswith(("admin/", "static/", "media/")):
            continue
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace])) or None
            yield from walk(pattern.url_patterns, route, inner)
        else:
            assert isinstance(pattern, URLPattern)
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, route


# The API's operations answer a bearer token, not a session: tests/api/test_api_role_matrix.py
# asks each of them (every operation in /api/openapi.json) as every identity, against this same
# table. Its docs, schema and root are pages like these, classified here.
API_PAGES = {"api:openapi-json", "api:openapi-view", "api:api-root"}


def is_api_operation(name: str | None) -> bool:
    return name is not None and name.startswith("api:") and name not in API_PAGES


URLS = {name: route for name, route in walk(root_urls.urlpatterns) if not is_api_operation(name)}
CLASSIFIED = {
    name: (key, methods) for key, action in ACTIONS.items() for name, methods in action.urls.items()
}
CASES = [(name, method) for name, (_, methods) in sorted(CLASSIFIED.items()) for method in methods]


def test_the_table_lists_every_url():
    assert None not in URLS, f"a URL pattern without a name cannot be classified: {URLS[None]}"
    assert set(URLS) - set(CLASSIFIED) == set(), "URLs the role table (roles.ACTIONS) does not classify"
    assert set(CLASSIFIED) - set(URLS) == set(), "the role table names URLs that do not exist"


@dataclass(frozen=True)
class Identity:
    """Who asks: their column in the table, and whether they hold the global export permission."""

    name: str
    column: str
    export_permission: bool = False


IDENTITIES = [
    Identity("anonymous", ANONYMOUS),
    Identity("annotator of another project", NON_MEMBER),
    Identity("exporter of another project", NON_MEMBER, export_permission=True),
    Identity("viewer", Role.VIEWER.value),
    Identity("viewer with export_preferences", Role.VIEWER.value, export_permission=True),
    Identity("annotator", Role.ANNOTATOR.value),
    Identity("annotator with export_preferences", Role.ANNOTATOR.value, export_permission=True),
    Identity("project admin", Role.ADMIN.value),
    Identity("staff", STAFF),
]


WHO = {identity.name: identity for identity in IDENTITIES}


def expected(identity: Identity, action: str) -> bool:
    cell = ACTIONS[action].cells[identity.column]
    return cell is True or (cell == WITH_EXPORT_PERMISSION and identity.export_permission)


@dataclass
class World:
    project: Project
    users: dict[str, Any]  # identity name -> user (None for anonymous)
    leases: dict[str, Assignment]  # identity name -> an open lease of theirs in the project
    round: TrainingRound
    export_job: ExportJob  # a finished one, its files on disk
    import_job: ImportJob  # a finished one


def _lease(comparison: Comparison, user) -> Assignment:
    """An open lease, with the comparison's slot counter kept exact (as leasing would)."""
    Comparison.objects.filter(pk=comparison.pk).update(leased=F("leased") + 1)
    return Assignment.objects.create(
        comparison=comparison, annotator=user, swapped=False, expires=timezone.now() + timedelta(minutes=30)
    )


def build(tmp_path: Path) -> World:
    """One project with everything its pages show, one member or outsider per identity."""
    checkpoint = tmp_path / "v1"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{}")
    project = factories.project_with_comparisons(count=2)
    factories.make_policy(project, 1, checkpoint=str(checkpoint), status=PolicyVersion.Status.READY)
    training_round = factories.make_round(project, 1)
    other = factories.make_project("other")
    export = Permission.objects.get(codename="export_preferences", content_type__app_label="projects")
    users: dict[str, Any] = {"anonymous": None}
    for identity in IDENTITIES[1:]:
        user = factories.make_user(staff=identity.column == STAFF)
        if identity.column == NON_MEMBER:
            Membership.objects.create(project=other, user=user)
        elif identity.column != STAFF:
            Membership.objects.create(project=project, user=user, role=identity.column)
        if identity.export_permission:
            user.user_permissions.add(export)
        users[identity.name] = user
    factories.make_user("newcomer")  # whom the members page's POST adds
    # Each signed-in identity holds a lease (a viewer's or outsider's from when they annotated).
    leases = {}
    for name, user in users.items():
        comparison = factories.make_comparison(project, policy=project.active_policy)
        leases[name] = _lease(comparison, user or users["annotator"])
    export_job = factories.make_export_job(project, tmp_path / "exports" / "1")
    import_job = factories.make_import_job(project, tmp_path / "imports" / "1")
    return World(project, users, leases, training_round, export_job, import_job)


def url_for(world: World, name: str, identity: Identity) -> str:
    route = URLS[name]
    kwargs: dict[str, Any] = {}
    if "<slug:slug>" in route:
        kwargs["slug"] = world.project.slug
    if "<int:number>" in route:
        kwargs["number"] = 1  # round 1, policy v1
    if "<int:job_id>" in route:
        kwargs["job_id"] = world.import_job.pk if name.startswith("datasets:import") else world.export_job.pk
    if "<int:assignment_id>" in route:
        kwargs["assignment_id"] = world.leases[identity.name].pk
    return reverse(name, kwargs=kwargs)


SETTINGS_POST = {
    "name": "Renamed",
    "guidelines": "New guidelines.",
    "overlap": "2",
    "max_prompt_bytes": "4096",
    "max_response_bytes": "8192",
    "max_reason_bytes": "512",
    "training_config": '{"reward": {"epochs": 2}}',
}
POSTED = {
    "annotation:submit": {"choice": "left", "strength": "2", "reason": "", "seconds_spent": "3"},
    "projects:members": {"action": "add", "username": "newcomer", "role": Role.VIEWER.value},
    "projects:settings": SETTINGS_POST,
    # A callable: an uploaded file is read once, and each identity posts its own.
    "datasets:import_prompts": lambda: {
        "file": SimpleUploadedFile("new.jsonl", b'{"prompt": "imported?"}\n', "application/jsonl")
    },
    "login": {"username": "nobody", "password": "wrong password"},
    "api_tokens": {"action": "create", "name": "from the matrix"},
    "datasets:export": {"fmt": "trl", "aggregation": "all"},
}


def snapshot(project: Project) -> tuple:
    """What a POST of these pages can change."""
    project.refresh_from_db()
    return (
        Judgment.objects.count(),
        sorted(Assignment.objects.values_list("pk", "completed", "outcome")),
        sorted(Membership.objects.values_list("project_id", "user_id", "role")),
        sorted(TrainingRound.objects.values_list("pk", "state", "attempt")),
        sorted(PolicyVersion.objects.values_list("pk", "status")),
        project.active_policy_id,
        Prompt.objects.count(),
        ExportJob.objects.count(),
        ImportJob.objects.count(),
        [getattr(project, name) for name in SETTINGS_POST],
    )


def is_login_redirect(response) -> bool:
    """login_required's answer: to the login page with the page asked for as ?next=."""
    return response.status_code == 302 and response["Location"].startswith(f"{reverse('login')}?next=")


def ask(client: Client, method: str, url: str, name: str):
    if method == "GET":
        return client.get(url)
    data = POSTED.get(name, {})
    return client.post(url, data() if callable(data) else data)


@pytest.mark.parametrize(("name", "method"), CASES, ids=[f"{m} {n}" for n, m in CASES])
def test_every_identity_gets_what_the_table_says(name, method, tmp_path):
    world = build(tmp_path)
    action = CLASSIFIED[name][0]
    wrong = []
    for identity in IDENTITIES:
        with transaction.atomic():
            client = Client()
            user = world.users[identity.name]
            if user is not None:
                client.force_login(user)
            url = url_for(world, name, identity)
            before = snapshot(world.project)
            response = ask(client, method, url, name)
            after = snapshot(world.project)
            transaction.set_rollback(True)
        status = response.status_code
        if expected(identity, action):
            ok = status != 403 and not is_login_redirect(response) and status < 500
        elif identity.column == ANONYMOUS:
            ok = (status == 403 or is_login_redirect(response)) and before == after
        else:
            ok = status == 403 and before == after
        if not ok:
            changed = "" if before == after else ", and it changed rows"
            wrong.append(f"{identity.name}: {status}{changed} (allowed: {expected(identity, action)})")
    assert not wrong, f"{method} {name} ({action}):\n" + "\n".join(wrong)


POST_ONLY = sorted(name for name, (_, methods) in CLASSIFIED.items() if methods == ("POST",))


@pytest.mark.parametrize("name", POST_ONLY)
def test_post_only_urls_answer_get_with_405_to_everyone_signed_in(name, tmp_path):
    """Their GET shows nothing to anyone, so the table guards only their POST."""
    world = build(tmp_path)
    for identity in IDENTITIES[1:]:
        client = Client()
        client.force_login(world.users[identity.name])
        assert client.get(url_for(world, name, identity)).status_code == 405, identity.name


def test_allowed_posts_do_what_they_say(client, tmp_path):
    """The matrix checks that refusals change nothing; here, that an allowed POST changes something."""
    world = build(tmp_path)
    annotator, admin = world.users["annotator"], world.users["project admin"]
    client.force_login(annotator)
    lease = world.leases["annotator"]
    client.post(url_for(world, "annotation:submit", WHO["annotator"]), POSTED["annotation:submit"])
    assert Judgment.objects.filter(comparison=lease.comparison, annotator=annotator).exists()
    client.force_login(admin)
    client.post(url_for(world, "projects:members", WHO["project admin"]), POSTED["projects:members"])
    assert Membership.objects.get(project=world.project, user__username="newcomer").role == "viewer"
    client.post(url_for(world, "catalog:activate", WHO["project admin"]))
    world.project.refresh_from_db()
    assert world.project.active_policy.number == 1
    client.post(url_for(world, "projects:settings", WHO["project admin"]), POSTED["projects:settings"])
    world.project.refresh_from_db()
    assert (world.project.name, world.project.training_config) == ("Renamed", {"reward": {"epochs": 2}})
    client.post(
        url_for(world, "datasets:import_prompts", WHO["project admin"]), POSTED["datasets:import_prompts"]()
    )
    assert Prompt.objects.get(project=world.project, source="new.jsonl").last_user_message == "imported?"
    client.post(url_for(world, "datasets:export", WHO["project admin"]), POSTED["datasets:export"])
    job = ExportJob.objects.exclude(pk=world.export_job.pk).get()
    assert (job.project, job.requested_by, job.spec["fmt"]) == (world.project, admin, "trl")
