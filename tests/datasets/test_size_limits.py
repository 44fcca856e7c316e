"""Prompt import holds every prompt to its project's `max_prompt_bytes` (finding 8: a 50 MB
prompt was accepted and its annotate page served 52 MB), names the line and field, and on a
refusal imports nothing and leaves what was there untouched."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import CommandError, call_command

from webapp.catalog.models import Prompt
from webapp.datasets.services import PromptImportError, import_prompts
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project() -> Project:
    project = Project.objects.create(name="P", slug="p")
    import_prompts(project, [json.dumps({"prompt": "already here"})])
    return project


def _snapshot(project: Project) -> list[tuple]:
    return list(Prompt.objects.filter(project=project).order_by("id").values_list("id", "conversation"))


def test_the_defaults_are_32_64_and_5_kb():
    project = Project.objects.create(name="D", slug="d")
    assert (project.max_prompt_bytes, project.max_response_bytes, project.max_reason_bytes) == (
        32768,
        65536,
        5120,
    )


def test_a_prompt_at_the_limit_is_imported_one_byte_over_is_not(project):
    at_limit = "x" * 32768
    assert import_prompts(project, [json.dumps({"prompt": at_limit})]) == 1
    before = _snapshot(project)
    with pytest.raises(PromptImportError) as refused:
        import_prompts(project, [json.dumps({"prompt": "fine"}), json.dumps({"prompt": at_limit + "x"})])
    assert str(refused.value) == "line 2, field 'prompt': 32,769 bytes, the project's limit is 32,768"
    assert _snapshot(project) == before


def test_the_command_names_line_and_field_and_imports_nothing(project, tmp_path):
    path = tmp_path / "prompts.jsonl"
    lines = [{"prompt": "one"}, {"prompt": "two"}, {"prompt": "y" * 40_000}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    before = _snapshot(project)
    message = "line 3, field 'prompt': 40,000 bytes, the project's limit is 32,768; nothing was imported"
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("import_prompts", "--project", "p", str(path))
    assert _snapshot(project) == before


def test_bytes_are_counted_in_utf8_not_characters(project):
    project.max_prompt_bytes = 300
    project.save()
    euro = "\u20ac" * 100  # 100 characters, 300 bytes
    assert import_prompts(project, [json.dumps({"prompt": euro})]) == 1
    with pytest.raises(PromptImportError, match=re.escape("303 bytes, the project's limit is 300")):
        import_prompts(project, [json.dumps({"prompt": euro + "\u20ac"})])


def test_the_limit_is_the_projects_own(project):
    other = Project.objects.create(name="Big", slug="big", max_prompt_bytes=100_000)
    line = json.dumps({"prompt": "z" * 50_000})
    assert import_prompts(other, [line]) == 1
    with pytest.raises(PromptImportError, match="the project's limit is 32,768"):
        import_prompts(project, [line])


def test_a_conversation_is_limited_as_a_whole(project):
    """Every message is on the annotate page: many small messages may not add up past the limit."""
    messages = [{"role": "user", "content": "m" * 20_000}, {"role": "assistant", "content": "ok"}]
    messages.append({"role": "user", "content": "n" * 20_000})
    before = _snapshot(project)
    with pytest.raises(PromptImportError) as refused:
        import_prompts(project, [json.dumps({"conversation": messages})])
    assert str(refused.value) == ("line 1, field 'conversation': 40,002 bytes, the project's limit is 32,768")
    assert _snapshot(project) == before


def test_metadata_and_source_are_checked_too(project):
    """Never shown, but stored with the prompt: NUL breaks PostgreSQL's jsonb and text."""
    before = _snapshot(project)
    bad = [
        ({"prompt": "x", "metadata": {"k": "a\u0000b"}}, "line 1, field 'metadata': contains a NUL"),
        (
            {"prompt": "x", "metadata": {"k": "v" * 40_000}},
            "line 1, field 'metadata': 40,009 bytes as JSON, the project's limit is 32,768",
        ),
        ({"prompt": "x", "source": "a\u0000b"}, "line 1, field 'source': contains a NUL"),
    ]
    for row, message in bad:
        with pytest.raises(PromptImportError, match=re.escape(message)):
            import_prompts(project, [json.dumps(row)])
    assert _snapshot(project) == before


def test_a_prompt_edited_in_the_admin_is_held_to_the_same_limit(project, admin_client):
    prompt = Prompt.objects.get(project=project)
    url = f"/admin/catalog/prompt/{prompt.pk}/change/"
    data = {"project": project.pk, "split": "train", "source": "", "metadata": "{}"}
    data["conversation"] = json.dumps([{"role": "user", "content": "q" * 40_000}])
    response = admin_client.post(url, data)
    assert response.status_code == 200  # the form again, with the error
    assert "field &#x27;conversation[0].content&#x27;: 40,000 bytes" in response.content.decode()
    prompt.refresh_from_db()
    assert prompt.conversation == [{"role": "user", "content": "already here"}]
