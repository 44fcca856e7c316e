"""The API's bulk endpoints import rows already parsed (`import_preference_rows`,
`import_comparison_rows`): the same checks as a file, all or nothing, errors naming `item N`."""

from __future__ import annotations

import pytest

from tests import platform_factories as factories
from tests.datasets.import_files import table_counts, turns
from webapp.annotation.models import Comparison, Judgment
from webapp.datasets.imports import ImportResult, import_comparison_rows, import_preference_rows
from webapp.datasets.readers import ImportFileError
from webapp.datasets.services import ImportFileError as ServicesImportFileError
from webapp.datasets.services import PromptImportError

pytestmark = pytest.mark.django_db

PAIR = {"prompt": "Hi", "chosen": " Hello!", "rejected": " No."}
COMPARE = {"prompt": "Hi", "responses": [{"model": "a", "text": "Hello!"}, {"model": "b", "text": "No."}]}


@pytest.fixture
def project():
    return factories.make_project("rows", overlap=3)


def test_preference_rows_are_judged_pairs_with_the_given_source(project):
    result = import_preference_rows(project, [PAIR, {**PAIR, "strength": 1}], "trl-standard", "api:batch-7")
    assert result == ImportResult(prompts=2, comparisons=2, judgments=2)
    assert list(Judgment.objects.order_by("id").values_list("source", "strength")) == [
        ("api:batch-7", 2),
        ("api:batch-7", 1),
    ]
    assert Comparison.objects.first().prompt.conversation == turns("Hi")


def test_comparison_rows_are_pending(project):
    result = import_comparison_rows(project, [COMPARE, COMPARE], "api")
    assert result == ImportResult(prompts=2, comparisons=2, judgments=0)
    assert set(Comparison.objects.values_list("status", "judgments_needed")) == {("pending", 3)}


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda p: import_preference_rows(p, [PAIR, {**PAIR, "strength": 5}], "trl-standard", "api"),
            "item 2, field 'strength'",
        ),
        (
            lambda p: import_preference_rows(p, [PAIR, "not an object"], "trl-standard", "api"),
            "item 2: expected a JSON object",
        ),
        (lambda p: import_preference_rows(p, [PAIR], "sft", "api"), "unknown format 'sft'"),
        (lambda p: import_preference_rows(p, [], "hh", "api"), "item 1: no items: nothing to import"),
        (
            lambda p: import_comparison_rows(p, [COMPARE, {"prompt": "x"}], "api"),
            "item 2, field 'responses': missing",
        ),
    ],
)
def test_a_bad_item_imports_nothing(project, call, message):
    with pytest.raises(ImportFileError) as refused:
        call(project)
    assert str(refused.value).startswith(message)
    assert table_counts() == (0, 0, 0, 0)


def test_one_error_class_under_every_name():
    assert ImportFileError is ServicesImportFileError is PromptImportError
