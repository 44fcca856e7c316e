"""The members page's three forms (add a member, change a role, remove a member) and the
settings page's form."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

from webapp.catalog.text import strict_json
from webapp.projects.models import Project
from webapp.projects.roles import Role
from webapp.projects.services import LIMIT_FIELDS, SETTINGS_FIELDS
from webapp.rounds import config as round_config


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)


class ChangeRoleForm(forms.Form):
    user = forms.IntegerField(min_value=1)
    role = forms.ChoiceField(choices=Role.choices)


class RemoveMemberForm(forms.Form):
    user = forms.IntegerField(min_value=1)


FORMS: dict[str, type[forms.Form]] = {
    "add": AddMemberForm,
    "role": ChangeRoleForm,
    "remove": RemoveMemberForm,
}


def first_error(form: forms.Form) -> tuple[str, str]:
    """(field, message) of the form's first error, for a one-line refusal."""
    field, errors = next(iter(form.errors.items()))
    return field, " ".join(errors)


# The most a size limit may be set to here: the limits keep pages small (a 50 MB prompt made a
# 52 MB annotate page), so a project admin cannot lift them past this; staff can, in the admin.
LIMIT_CEILING = 1024 * 1024


class ProjectSettingsForm(forms.ModelForm):
    """What a project's team edits. Not the slug (it is every URL of the project), not the active
    policy (only catalog.services.deploy changes it), not the base model (a path or hub id the
    workers would load: an operator's choice, and only version 0 is made from it)."""

    training_config = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text='Overrides of the round defaults, as JSON: {"section": {"key": value}}. '
        "Sections: " + ", ".join(round_config.SECTIONS) + ".",
    )

    class Meta:
        model = Project
        fields = SETTINGS_FIELDS
        widgets = {"guidelines": forms.Textarea(attrs={"rows": 8})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        overlap = self.fields["overlap"]
        overlap.help_text += " Applies to the comparisons made from now on."
        overlap.widget.attrs["min"] = 1  # 0 would make comparisons that need no judgment
        overlap.validators.append(MinValueValidator(1, "at least 1: every comparison needs a judge"))
        ceiling = f"at most {LIMIT_CEILING:,} bytes here; staff can set more in the Django admin"
        for name in LIMIT_FIELDS:
            self.fields[name].widget.attrs["max"] = LIMIT_CEILING
            self.fields[name].validators.append(MaxValueValidator(LIMIT_CEILING, ceiling))
        if not self.is_bound:
            self.initial["training_config"] = json.dumps(self.instance.training_config or {}, indent=2)

    def clean_license(self) -> str:
        """A Hugging Face licence id goes into the dataset card's YAML as it is: one token."""
        value = self.cleaned_data["license"].strip().lower()
        if value and not re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", value):
            raise ValidationError(
                'a licence id such as "cc-by-4.0" or "apache-2.0": letters, digits, ".", "-", "+"'
            )
        return value

    def clean_training_config(self) -> dict[str, Any]:
        """JSON text to the dict Project stores, checked by rounds.config the way a round reads it."""
        text = self.cleaned_data["training_config"].strip() or "{}"
        try:
            value = strict_json(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from exc
        except (ValueError, RecursionError) as exc:
            raise ValidationError(f"not valid JSON: {exc}") from exc
        try:
            return round_config.check_overrides(value)
        except round_config.ConfigError as exc:
            raise ValidationError(str(exc)) from exc
