"""Forms of the Groups pages and of the Members page's Groups section."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from secrets_app.models import GroupSource
from secrets_app.ui.forms import UIForm


class GroupCreateForm(UIForm):
    id_prefix = "group"
    slug = forms.SlugField(label="Slug", max_length=64, widget=forms.TextInput(attrs={"placeholder": "backend-team"}))
    name = forms.CharField(label="Name", max_length=200, required=False)
    source = forms.ChoiceField(
        label="Source",
        choices=[(GroupSource.LOCAL.value, "Local"), (GroupSource.IDP.value, "Identity provider group")],
        initial=GroupSource.LOCAL.value,
    )
    external_id = forms.CharField(
        label="Directory group id",
        max_length=255,
        required=False,
        help_text="For an identity provider group: its id as sent in the groups claim (the Entra object id).",
        widget=forms.TextInput(attrs={"placeholder": "00000000-0000-0000-0000-000000000000"}),
    )


class GroupMemberAddForm(UIForm):
    id_prefix = "group-member"
    email = forms.CharField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"placeholder": "name@company.com"})
    )


class GroupUpdateForm(UIForm):
    id_prefix = "group-edit"
    name = forms.CharField(label="Name", max_length=200, required=False)
    external_id = forms.CharField(label="Directory group id", max_length=255, required=False)


class ProjectGroupAddForm(UIForm):
    id_prefix = "project-group"
    group = forms.ChoiceField(label="Group")
    role = forms.ChoiceField(label="Role")

    def __init__(
        self,
        *args: Any,
        groups: Iterable[tuple[str, str]] = (),
        roles: Iterable[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = list(groups)
        self.fields["role"].choices = list(roles)
