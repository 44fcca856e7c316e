"""The import page's form: what the file holds (prompts, preferences in a format, or
comparisons to judge), and the file."""

from __future__ import annotations

from django import forms

from webapp.datasets.imports import PREFERENCE_FORMATS

KINDS = {
    "prompts": "Prompts",
    "preferences": "Preferences judged elsewhere",
    "comparisons": "Responses from other models, to judge here",
}


class PromptImportForm(forms.Form):
    kind = forms.ChoiceField(
        choices=list(KINDS.items()),
        required=False,  # a form that names no kind imports prompts, as the page always did
        initial="prompts",
        widget=forms.RadioSelect,
        label="The file holds",
    )
    format = forms.ChoiceField(
        choices=[(name, f"{name}: {what}") for name, what in PREFERENCE_FORMATS.items()],
        required=False,
        initial="trl",
        label="Preference format",
        help_text="For preferences: the export's format names, or UltraFeedback's rated completions.",
    )
    file = forms.FileField(
        help_text='Prompts: JSON lines, {"prompt": "..."} or {"conversation": [{"role": "user", '
        '"content": "..."}]} a line, optional "split" (train or eval), "source", "metadata"; or CSV '
        '(a "prompt" column, optional "split" and "source"); or Parquet. Comparisons: {"prompt": '
        '"...", "responses": [{"model": "...", "text": "..."}, ...]} a line, 2 to 6 responses. '
        "Any of them gzip-compressed.",
        widget=forms.ClearableFileInput(attrs={"accept": ".jsonl,.json,.gz,.csv,.parquet"}),
    )

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or "prompts"

    def clean_format(self) -> str:
        return self.cleaned_data.get("format") or "trl"
