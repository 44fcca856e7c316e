"""The members page's three forms: add a member, change a role, remove a member."""

from __future__ import annotations

from django import forms

from webapp.projects.roles import Role


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
