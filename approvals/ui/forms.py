"""The approval policy form (create and edit)."""

from __future__ import annotations

from typing import Any

from django import forms

from approvals.models import Enforcement


class PolicyForm(forms.Form):
    name = forms.CharField(max_length=120)
    environments = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    path = forms.CharField(
        max_length=512,
        initial="/**",
        help_text="Folder path or glob: /payments, /payments/**; /** is the whole environment",
    )
    approvers = forms.MultipleChoiceField(
        help_text="People and groups of the organization (a group counts with its members)"
    )
    bypassers = forms.MultipleChoiceField(
        required=False, help_text="Soft policies only: who may break glass (merge without approvals, with a reason)"
    )
    approvals_required = forms.IntegerField(min_value=1, max_value=100, initial=1, label="Approvals required")
    enforcement = forms.ChoiceField(choices=Enforcement.choices, initial=Enforcement.HARD)
    allow_self_approval = forms.BooleanField(required=False, label="Committers may approve their own requests")
    applies_to_identities = forms.BooleanField(
        required=False, initial=True, label="Hold machine identities' writes too"
    )
    governs_changes = forms.BooleanField(required=False, initial=True, label="Governs secret changes")
    governs_access = forms.BooleanField(required=False, initial=True, label="Governs access requests")
    request_ttl_hours = forms.IntegerField(
        min_value=1, max_value=2160, initial=168, label="Requests expire after (hours)"
    )
    max_access_hours = forms.IntegerField(min_value=1, max_value=720, initial=8, label="Longest access grant (hours)")

    def __init__(self, *args: Any, environments: list[str], people: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        env_field = self.fields["environments"]
        assert isinstance(env_field, forms.MultipleChoiceField)
        env_field.choices = [(slug, slug) for slug in environments]
        for name in ("approvers", "bypassers"):
            field = self.fields[name]
            assert isinstance(field, forms.MultipleChoiceField)
            field.choices = people
