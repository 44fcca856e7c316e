"""Prompts in bulk: the rows `import_prompts` reads, all or nothing."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from webapp.api.endpoints.common import project_or_404
from webapp.api.errors import ApiError
from webapp.catalog.text import text_problem
from webapp.datasets import imports
from webapp.projects.permissions import can_import_prompts

router = Router(tags=["prompts"])

MAX_ITEMS = 10_000


class PromptsIn(Schema):
    # Each row as a line of `import_prompts` holds it: {"prompt": "..."} or {"conversation": [...]}
    # (or a TRL / HH-RLHF row), optional split, source, metadata.
    prompts: list[dict[str, Any]] = Field(..., min_length=1, max_length=MAX_ITEMS)
    source: str = Field("", max_length=200, description="source of rows that name none")


class PromptsCreated(Schema):
    created: int


@router.post(
    "/projects/{slug}/prompts",
    response={201: PromptsCreated},
    operation_id="prompts_create",
    url_name="prompts_create",
)
def prompts_create(request: HttpRequest, slug: str, payload: PromptsIn):
    """Create prompts; any bad row refuses them all, naming `item N` (from 1) and the field."""
    project = project_or_404(request, slug, can_import_prompts)
    problem = text_problem(payload.source)
    if problem:
        raise ApiError(422, f"field 'source': {problem}")
    try:
        created = imports.import_prompt_rows(project, payload.prompts, source=payload.source)
    except imports.ImportFileError as exc:
        raise ApiError(422, str(exc)) from exc
    return 201, {"created": created}
