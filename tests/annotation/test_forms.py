"""JudgmentForm refuses, with a field error, what the queue could not store."""

from __future__ import annotations

import pytest

from webapp.annotation.forms import JudgmentForm


def _form(**overrides) -> JudgmentForm:
    data = {"choice": "left", "strength": "2", "reason": "", "seconds_spent": "3.5"}
    data.update(overrides)
    return JudgmentForm(data={k: v for k, v in data.items() if v is not None})


def test_valid_form_cleans_to_service_arguments():
    form = _form(strength="3", reason="clearer")
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"choice": "left", "strength": 3, "reason": "clearer", "seconds_spent": 3.5}


def test_strength_and_time_are_optional():
    form = _form(strength=None, seconds_spent=None)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["strength"] == 2
    assert form.cleaned_data["seconds_spent"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("choice", None),
        ("choice", "a"),
        ("choice", "<script>"),
        ("strength", "4"),
        ("strength", "much"),
        ("seconds_spent", "-1"),
        ("seconds_spent", "nan"),
        ("seconds_spent", "inf"),
        ("seconds_spent", "soon"),
        ("reason", "nul \x00 byte"),  # PostgreSQL text cannot hold NUL
    ],
)
def test_unstorable_values_get_a_field_error(field, value):
    form = _form(**{field: value})
    assert not form.is_valid()
    assert field in form.errors, form.errors
