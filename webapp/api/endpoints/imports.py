"""Data made elsewhere, in bulk, all or nothing (`datasets.imports`): comparisons of responses by
outside models, to be judged here, and preferences judged elsewhere. Errors name `item N`."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from webapp.api.endpoints.common import project_or_404
from webapp.api.endpoints.prompts import MAX_ITEMS
from webapp.api.errors import ApiError
from webapp.datasets import imports
from webapp.projects.permissions import can_import_prompts

router = Router(tags=["imports"])


class ComparisonsIn(Schema):
    # {"prompt": "..." (or any prompt row's fields), "responses": [{"model": "m", "text": "..."}, ...]}:
    # 2 to 6 responses; every pair of them becomes a comparison for the queue.
    comparisons: list[dict[str, Any]] = Field(..., min_length=1, max_length=MAX_ITEMS)
    source: str = Field("api", max_length=200, description="the prompts' source, unless a row names one")


class PreferencesIn(Schema):
    format: Literal["hh", "trl", "trl-standard", "ultrafeedback"]  # the export's names
    # Rows as the format's files hold them; each pair becomes a judged (complete) comparison.
    preferences: list[dict[str, Any]] = Field(..., min_length=1, max_length=MAX_ITEMS)
    source: str = Field("api", max_length=200, description="Judgment.source becomes '<format>:<source>'")


class Imported(Schema):
    prompts: int
    comparisons: int
    judgments: int


def _result(result: imports.ImportResult) -> dict:
    return {"prompts": result.prompts, "comparisons": result.comparisons, "judgments": result.judgments}


@router.post(
    "/projects/{slug}/comparisons",
    response={201: Imported},
    operation_id="comparisons_create",
    url_name="comparisons_create",
)
def comparisons_create(request: HttpRequest, slug: str, payload: ComparisonsIn):
    """Prompts with responses by outside models (each with its model name), to be judged here:
    `import_comparisons`' rows."""
    project = project_or_404(request, slug, can_import_prompts)
    try:
        result = imports.import_comparison_rows(project, payload.comparisons, payload.source)
    except imports.ImportFileError as exc:
        raise ApiError(422, str(exc)) from exc
    return 201, _result(result)


@router.post(
    "/projects/{slug}/preferences",
    response={201: Imported},
    operation_id="preferences_create",
    url_name="preferences_create",
)
def preferences_create(request: HttpRequest, slug: str, payload: PreferencesIn):
    """Preferences judged elsewhere: `import_preferences`' rows; the judgments are marked with
    their source, so exports and rounds can include or leave them out."""
    project = project_or_404(request, slug, can_import_prompts)
    try:
        result = imports.import_preference_rows(
            project, payload.preferences, payload.format, f"{payload.format}:{payload.source}"
        )
    except imports.ImportFileError as exc:
        raise ApiError(422, str(exc)) from exc
    return 201, _result(result)
