"""Forms of the project settings page and of the folder actions panel. They parse input only; the
services decide (and raise DomainError, shown on these forms with ``apply_domain_error``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from secrets_app.ui.forms import UIForm

_MONO = {"class": "mono", "autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}


class ProjectRenameForm(UIForm):
    id_prefix = "project"
    name = forms.CharField(label="Project name", max_length=120)


class EnvironmentAddForm(UIForm):
    id_prefix = "env-add"
    slug = forms.CharField(label="Slug", max_length=64, widget=forms.TextInput(attrs={"placeholder": "qa", **_MONO}))
    name = forms.CharField(
        label="Display name",
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "QA"}),
        help_text="Optional; the slug when empty.",
    )


class EnvironmentRenameForm(UIForm):
    slug = forms.CharField(label="Slug", max_length=64, widget=forms.TextInput(attrs=_MONO))
    name = forms.CharField(label="Display name", max_length=64, required=False)

    def __init__(self, *args: Any, environment: str, **kwargs: Any) -> None:
        # One form per row: ids must not collide between rows.
        self.id_prefix = f"env-{environment}"
        super().__init__(*args, **kwargs)
        # Every row has these fields: the label says whose they are (screen readers list them all).
        self.fields["slug"].label = f"New slug for {environment}"
        self.fields["name"].label = f"Display name of {environment}"


class ProjectDeleteForm(UIForm):
    id_prefix = "project-delete"
    confirm = forms.CharField(
        label="Type the project slug to confirm", max_length=120, widget=forms.TextInput(attrs=_MONO)
    )


class FolderRenameForm(UIForm):
    id_prefix = "folder-rename"
    name = forms.CharField(label="New name", max_length=64, widget=forms.TextInput(attrs=_MONO))
    environments = forms.MultipleChoiceField(label="In", widget=forms.CheckboxSelectMultiple)
    path = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, environments: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["environments"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(env, env) for env in environments]


class FolderDeleteForm(UIForm):
    id_prefix = "folder-delete"
    environments = forms.MultipleChoiceField(label="Delete in", widget=forms.CheckboxSelectMultiple)
    path = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, environments: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["environments"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(env, env) for env in environments]
