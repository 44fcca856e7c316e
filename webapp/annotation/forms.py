"""The judgment form: validates what an annotator posts before the queue stores it."""

from __future__ import annotations

import math

from django import forms

from webapp.annotation.models import Judgment


class JudgmentForm(forms.Form):
    """A judgment in SHOWN terms (left/right); the service maps it to stored A/B.

    Everything the database or the export could not hold is refused here with a field error
    (an unknown choice, strength outside 1-3, a NUL byte in the reason, a negative or
    non-finite time), so the annotator sees why instead of a 500. The reason's length is the
    project's (`max_reason_bytes`): the service checks it, and the view puts its refusal on the
    reason field.
    """

    choice = forms.ChoiceField(
        choices=[
            ("left", "A is better"),
            ("right", "B is better"),
            ("tie", "Tie"),
            ("both_bad", "Both bad"),
        ],
        error_messages={
            "required": "Pick which response is better (1-4).",
            "invalid_choice": "%(value)s is not a choice; pick A, B, tie or both bad.",
        },
    )
    strength = forms.TypedChoiceField(
        choices=Judgment.Strength.choices,
        coerce=int,
        initial=Judgment.Strength.CLEAR,
        required=False,
        empty_value=Judgment.Strength.CLEAR,
        error_messages={"invalid_choice": "Strength must be 1 (slight), 2 (clear) or 3 (much)."},
    )
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Why? (optional, r to focus, Esc to leave)"}),
    )
    # Measured by annotate.js; absent without JavaScript (the service then estimates it).
    seconds_spent = forms.FloatField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean_seconds_spent(self) -> float | None:
        value = self.cleaned_data.get("seconds_spent")
        if value is not None and not math.isfinite(value):
            raise forms.ValidationError("Time spent must be a finite number of seconds.")
        return value
