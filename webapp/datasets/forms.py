"""The prompt import page's form: one file."""

from __future__ import annotations

from django import forms


class PromptImportForm(forms.Form):
    file = forms.FileField(
        help_text='JSON lines, optionally gzip-compressed: {"prompt": "..."} or '
        '{"conversation": [{"role": "user", "content": "..."}]} a line, optional "split" '
        '(train or eval), "source", "metadata".',
        widget=forms.ClearableFileInput(attrs={"accept": ".jsonl,.json,.gz,.jsonl.gz"}),
    )
