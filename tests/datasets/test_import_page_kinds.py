"""The import page takes what the admin says the file holds: prompts (the default, as before),
preferences in a chosen format, or comparisons to judge; a bad file of any kind imports nothing
and names the line and field, under the same size cap."""

from __future__ import annotations

import gzip
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests import platform_factories as factories
from tests.datasets.import_files import jsonl, table_counts, turns
from webapp.annotation.models import Comparison, Judgment
from webapp.projects.roles import Role

pytestmark = pytest.mark.django_db

PREFS = [
    {
        "prompt": turns("Hi"),
        "chosen": [{"role": "assistant", "content": "Hello!"}],
        "rejected": [{"role": "assistant", "content": "No."}],
    },
    {
        "prompt": turns("Name a fruit."),
        "chosen": [{"role": "assistant", "content": "Pear."}],
        "rejected": [{"role": "assistant", "content": "Rock."}],
    },
]
RESPONSES = [
    {
        "prompt": "Hi",
        "responses": [
            {"model": "a", "text": "Hello!"},
            {"model": "b", "text": "No."},
            {"model": "c", "text": "Hey."},
        ],
    }
]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def project():
    return factories.make_project("page", overlap=2)


@pytest.fixture
def client_of_admin(client, project):
    client.force_login(factories.make_member(project, "olga", Role.ADMIN))
    return client


def url(project) -> str:
    return reverse("datasets:import_prompts", kwargs={"slug": project.slug})


def post(client, project, content: bytes, name: str, **fields):
    return client.post(url(project), {"file": SimpleUploadedFile(name, content), **fields}, follow=True)


def test_the_page_offers_the_three_kinds_and_the_formats(client_of_admin, project):
    page = client_of_admin.get(url(project)).content.decode()
    for kind in ("prompts", "preferences", "comparisons"):
        assert f'data-testid="kind-{kind}"' in page
    for fmt in ("hh", "trl", "trl-standard", "ultrafeedback"):
        assert f'<option value="{fmt}"' in page
    assert 'value="prompts" id="id_kind_0" checked' in page


def test_prompts_by_default(client_of_admin, project):
    page = post(client_of_admin, project, b"prompt\nWhy?\nHow?\n", "prompts.csv").content.decode()
    assert "Imported 2 prompts from prompts.csv." in page
    assert table_counts() == (2, 0, 0, 0)


def test_preferences_in_the_chosen_format(client_of_admin, project):
    response = post(
        client_of_admin,
        project,
        gzip.compress(jsonl(PREFS)),
        "prefs.jsonl.gz",
        kind="preferences",
        format="trl",
    )
    assert response.redirect_chain == [(url(project), 302)]
    page = response.content.decode()
    assert "Imported 2 judged pairs (trl) of 2 prompts from prefs.jsonl.gz." in page
    assert "2 judgments imported from elsewhere" in page
    assert set(Judgment.objects.values_list("source", flat=True)) == {"trl:prefs.jsonl.gz"}
    assert set(Comparison.objects.values_list("status", flat=True)) == {"complete"}


def test_comparisons_to_judge(client_of_admin, project):
    page = post(
        client_of_admin, project, jsonl(RESPONSES), "responses.jsonl", kind="comparisons"
    ).content.decode()
    assert "Imported 3 comparisons of 1 prompt to judge from responses.jsonl." in page
    assert "3 comparisons waiting to be judged" in " ".join(page.split())
    assert set(Comparison.objects.values_list("status", "judgments_needed")) == {("pending", 2)}


@pytest.mark.parametrize(
    "kind, fmt, content, message",
    [
        (
            "preferences",
            "hh",
            jsonl(PREFS),
            "line 1, field &#x27;prompt&#x27;: not part of the hh format, whose rows are two full transcripts",
        ),
        (
            "preferences",
            "trl",
            jsonl(PREFS[:1]) + b'{"prompt": [], "chosen": "x", "rejected": "y"}\n',
            "line 2, field &#x27;",
        ),
        (
            "comparisons",
            "",
            jsonl(RESPONSES) + b'{"prompt": "Hi", "responses": [{"model": "a"}]}\n',
            "line 2, field &#x27;responses&#x27;: must hold 2 to 6",
        ),
        ("comparisons", "", b"\xff\xfe", "line 1: not valid UTF-8"),
    ],
)
def test_a_bad_file_of_any_kind_imports_nothing(client_of_admin, project, kind, fmt, content, message):
    response = client_of_admin.post(
        url(project), {"file": SimpleUploadedFile("bad.jsonl", content), "kind": kind, "format": fmt}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported: line " in page and message in page, page[page.find("import-error") :][:400]
    assert table_counts() == (0, 0, 0, 0)
    assert re.search(f'value="{kind}" id="id_kind_\\d" checked', page)  # the kind stays chosen


def test_the_size_cap_holds_for_every_kind(client_of_admin, project, settings):
    settings.PREFLOOP_MAX_IMPORT_BYTES = 4000
    many = jsonl(PREFS * 40)  # over 4,000 bytes unpacked, far under it compressed
    assert len(gzip.compress(many)) < 4000 < len(many)
    response = client_of_admin.post(
        url(project),
        {
            "file": SimpleUploadedFile("p.jsonl.gz", gzip.compress(many)),
            "kind": "preferences",
            "format": "trl",
        },
    )
    assert response.status_code == 400
    assert "the file is over 4,000 bytes uncompressed, this page&#x27;s limit" in response.content.decode()
    assert table_counts() == (0, 0, 0, 0)


def test_a_parquet_upload_is_told_by_its_bytes(client_of_admin, project, tmp_path, settings):
    """Small uploads stay in memory, large ones go to a temporary file: both are read twice."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "prompts.parquet"
    pq.write_table(pa.Table.from_pylist([{"prompt": "one?"}, {"prompt": "two?", "split": "eval"}]), path)
    for memory_limit in (10_000_000, 0):
        settings.FILE_UPLOAD_MAX_MEMORY_SIZE = memory_limit
        page = post(client_of_admin, project, path.read_bytes(), "upload.bin").content.decode()
        assert "Imported 2 prompts from upload.bin." in page
    assert table_counts() == (4, 0, 0, 0)
