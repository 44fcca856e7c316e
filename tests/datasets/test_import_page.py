"""The prompt import page: a project admin (or staff) uploads JSON lines, plain or gzip; a bad
line, a bad file or one too large imports nothing and says which line and field; everyone else
gets 403 and imports nothing. These files are under PREFLOOP_IMPORT_JOB_BYTES, so they import in
the request; larger ones become jobs (tests/datasets/test_import_page_jobs.py)."""

from __future__ import annotations

import gzip
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests import platform_factories as factories
from webapp.catalog.models import Prompt
from webapp.projects.models import Membership, Project
from webapp.projects.roles import Role

pytestmark = pytest.mark.django_db

GOOD = b"".join(
    json.dumps(row).encode() + b"\n"
    for row in [
        {"prompt": "Why is the sky blue?"},
        {"prompt": "Name a prime.", "split": "eval", "metadata": {"topic": "maths"}},
        {
            "conversation": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
            + [{"role": "user", "content": "Tell me a joke."}]
        },
    ]
)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def project() -> Project:
    project = factories.make_project("demo")
    project.max_prompt_bytes = 300
    project.save()
    return project


@pytest.fixture
def admin(project):
    return factories.make_member(project, "olga", Role.ADMIN)


def url(project: Project) -> str:
    return reverse("datasets:import_prompts", kwargs={"slug": project.slug})


def upload(content: bytes, name: str = "prompts.jsonl") -> dict:
    return {"file": SimpleUploadedFile(name, content, "application/octet-stream")}


def test_a_file_is_imported_and_counted(client, project, admin):
    client.force_login(admin)
    page = client.get(url(project)).content.decode()
    assert "has 0 prompts" in page and 'enctype="multipart/form-data"' in page
    response = client.post(url(project), upload(GOOD, "batch-1.jsonl"), follow=True)
    assert response.redirect_chain == [(url(project), 302)]
    page = response.content.decode()
    assert "Imported 3 prompts from batch-1.jsonl." in page
    assert "has 3 prompts" in page and "(2 train, 1 eval)" in page
    prompts = Prompt.objects.filter(project=project).order_by("id")
    assert [p.last_user_message for p in prompts] == [
        "Why is the sky blue?",
        "Name a prime.",
        "Tell me a joke.",
    ]
    assert {p.source for p in prompts} == {"batch-1.jsonl"}
    assert prompts[1].split == "eval" and prompts[1].metadata == {"topic": "maths"}


def test_a_gzip_file_is_imported(client, project, admin):
    client.force_login(admin)
    response = client.post(url(project), upload(gzip.compress(GOOD), "prompts.jsonl.gz"), follow=True)
    assert "Imported 3 prompts" in response.content.decode()
    assert Prompt.objects.filter(project=project).count() == 3


BAD = [
    (b'{"prompt": "ok"}\n{not json\n', "line 2: not valid JSON"),
    (b'{"prompt": "ok"}\n{"prompt": ""}\n', "line 2, field &#x27;prompt&#x27;: must be a non-empty string"),
    (b'{"prompt": "ok"}\n\n{"prompt": "caf\xe9"}\n', "line 3: not valid UTF-8 (byte 16)"),
    (b'{"prompt": "ok", "split": "test"}\n', "line 1, field &#x27;split&#x27;: must be one of train, eval"),
    (b'{"prompt": "ok"}\n{"prompt": "' + b"x" * 400 + b'"}\n', "line 2, field &#x27;prompt&#x27;:"),
    (b'{"prompt": "a\\u0000b"}\n', "line 1, field &#x27;prompt&#x27;: contains a NUL"),
    (b"[1, 2]\n", "line 1: expected a JSON object"),
    (b"\x1f\x8b not gzip at all", "line 1: the file is not valid gzip"),
    (gzip.compress(GOOD)[:-12], "the file is not valid gzip"),  # cut short: on the line it ends in
]


@pytest.mark.parametrize(("content", "message"), BAD, ids=range(len(BAD)))
def test_a_bad_line_imports_nothing_and_is_named(client, project, admin, content, message):
    client.force_login(admin)
    response = client.post(url(project), upload(content))
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="import-error"' in page
    assert "Nothing was imported: line " in page and message in page, page[page.find("import-error") :][:400]
    assert not Prompt.objects.exists()


def test_no_file_is_refused(client, project, admin):
    client.force_login(admin)
    response = client.post(url(project), {})
    assert response.status_code == 400
    assert "Nothing was imported: choose a file." in response.content.decode()
    assert 'data-testid="error-file"' in response.content.decode()


def test_a_file_over_the_cap_is_refused_before_it_is_stored(client, project, admin, settings):
    settings.PREFLOOP_MAX_IMPORT_BYTES = 100
    client.force_login(admin)
    response = client.post(url(project), upload(GOOD))
    assert response.status_code == 413
    assert (
        "Nothing was imported: the file is over 100 bytes, this page&#x27;s limit"
        in response.content.decode()
    )
    assert not Prompt.objects.exists()


def test_a_gzip_file_that_unpacks_past_the_cap_is_refused(client, project, admin, settings):
    line = b'{"prompt": "the same prompt again"}\n'
    lines = line * 400  # 14 kB, under 200 bytes compressed
    settings.PREFLOOP_MAX_IMPORT_BYTES = 4000
    assert len(gzip.compress(lines)) < 4000
    first_over = 4000 // len(line) + 1
    client.force_login(admin)
    response = client.post(url(project), upload(gzip.compress(lines), "many.jsonl.gz"))
    assert response.status_code == 400
    assert f"line {first_over}: the file is over 4,000 bytes uncompressed" in response.content.decode()
    assert not Prompt.objects.exists()


def test_the_form_needs_its_csrf_token(project, admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    assert client.post(url(project), upload(GOOD)).status_code == 403
    assert not Prompt.objects.exists()
    client.get(url(project))
    token = client.cookies["csrftoken"].value
    response = client.post(url(project), {**upload(GOOD), "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Prompt.objects.count() == 3


def test_staff_import_into_any_project(client, project):
    client.force_login(factories.make_user("root", staff=True))
    assert client.post(url(project), upload(GOOD)).status_code == 302
    assert Prompt.objects.filter(project=project).count() == 3


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR, None])
def test_others_are_refused_and_import_nothing(client, project, role):
    user = factories.make_user("someone")
    if role is not None:
        Membership.objects.create(project=project, user=user, role=role)
    client.force_login(user)
    assert client.get(url(project)).status_code == 403
    assert client.post(url(project), upload(GOOD)).status_code == 403
    assert not Prompt.objects.exists()


def test_anonymous_is_sent_to_log_in(client, project):
    response = client.post(url(project), upload(GOOD))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not Prompt.objects.exists()


def test_the_project_page_links_it_for_those_who_may(client, project, admin):
    detail = reverse("projects:detail", kwargs={"slug": project.slug})
    client.force_login(admin)
    assert 'data-testid="import-link"' in client.get(detail).content.decode()
    viewer = factories.make_user("vic")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    assert 'data-testid="import-link"' not in client.get(detail).content.decode()
