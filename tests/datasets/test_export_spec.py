"""ExportSpec from a form, API or JSON dict: round trip through to_mapping, errors naming the field."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from webapp.datasets.exporting import ExportSpec


def test_round_trip():
    spec = ExportSpec.from_mapping(
        {
            "format": "parquet",
            "aggregation": "majority",
            "rounds": ["1", 2],
            "after": "2026-11-01",
            "before": "2026-11-30T18:00:00Z",
            "annotators": ["alice"],
            "sources": [""],
        }
    )
    assert spec.rounds == (1, 2) and spec.annotators == ("alice",) and spec.sources == ("",)
    assert spec.before == datetime(2026, 11, 30, 18, tzinfo=timezone.utc) and spec.after.tzinfo is not None
    assert ExportSpec.from_mapping(spec.to_mapping()) == spec


def test_defaults():
    spec = ExportSpec.from_mapping({"fmt": "trl", "aggregation": "", "rounds": []})
    assert spec == ExportSpec("trl") and spec.to_mapping()["rounds"] is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "field 'fmt': missing"),
        ({"fmt": "csv"}, "field 'fmt': unknown format 'csv'"),
        ({"fmt": "trl", "aggregation": "mean"}, "field 'aggregation': unknown aggregation 'mean'"),
        ({"fmt": "trl", "rounds": ["one"]}, "field 'rounds' item 0: expected a round number, got 'one'"),
        ({"fmt": "trl", "rounds": [-1]}, "field 'rounds' item 0: a round number is 0 or more"),
        ({"fmt": "trl", "after": "yesterday"}, "field 'after': not an ISO 8601 date or time: 'yesterday'"),
        ({"fmt": "trl", "before": 5}, "field 'before': expected an ISO 8601 date or time"),
        ({"fmt": "trl", "after": "2026-12-02", "before": "2026-12-01"}, "field 'before': must be later"),
        ({"fmt": "trl", "annotators": [3]}, "field 'annotators' item 0: expected a string"),
        ({"fmt": "trl", "sources": {"a": 1}}, "field 'sources': expected a list"),
        ({"fmt": "trl", "round": [1]}, "field 'round': not an export setting"),
    ],
)
def test_bad_input_names_the_field(data, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        ExportSpec.from_mapping(data)
