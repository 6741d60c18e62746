"""Forms of the web UI: they parse and shape input only. Rules live in services (which raise
DomainError; views show those errors on these forms with ``apply_domain_error``)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django import forms
from django.http import QueryDict

from audit.models import Outcome
from secrets_app.models import BuiltinRole, OrgRole
from secrets_app.policy import ACTIONS

_MONO = {"class": "mono", "autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}


class UIForm(forms.Form):
    """Element ids carry the form's name: several forms share a page (the sidebar, the matrix and
    the panel), and a label must point at its own input."""

    id_prefix = "form"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)


def _choices(values: Iterable[str]) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


class LoginForm(UIForm):
    id_prefix = "login"
    email = forms.CharField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True})
    )
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class TotpForm(UIForm):
    id_prefix = "totp"
    code = forms.CharField(
        label="Authentication code",
        max_length=10,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "class": "mono"}
        ),
    )


class TokenCreateForm(UIForm):
    id_prefix = "token"
    name = forms.CharField(
        label="Name", max_length=120, widget=forms.TextInput(attrs={"placeholder": "e.g. laptop CLI"})
    )
    expires_in_days = forms.IntegerField(
        label="Expires after (days)",
        required=False,
        min_value=1,
        max_value=3650,
        widget=forms.NumberInput(attrs={"placeholder": "never"}),
    )


class ProjectCreateForm(UIForm):
    id_prefix = "project"
    name = forms.CharField(label="Name", max_length=120, widget=forms.TextInput(attrs={"placeholder": "Payments API"}))
    slug = forms.CharField(
        label="Slug", max_length=64, widget=forms.TextInput(attrs={"placeholder": "payments-api", **_MONO})
    )
    environments = forms.CharField(
        label="Environments",
        initial="dev,staging,prod",
        max_length=500,
        help_text="Comma-separated, in order.",
        widget=forms.TextInput(attrs=_MONO),
    )

    def clean_environments(self) -> list[str]:
        return [part.strip() for part in self.cleaned_data["environments"].split(",") if part.strip()]


class SecretCreateForm(UIForm):
    id_prefix = "secret-new"
    key = forms.CharField(
        label="Key", max_length=256, widget=forms.TextInput(attrs={"placeholder": "DATABASE_URL", **_MONO})
    )
    environment = forms.ChoiceField(label="Environment")
    value = forms.CharField(
        label="Value", required=False, strip=False, widget=forms.Textarea(attrs={"rows": 2, **_MONO})
    )
    comment = forms.CharField(label="Comment", required=False, max_length=1000)
    path = forms.CharField(widget=forms.HiddenInput, initial="/")

    def __init__(self, *args: Any, environments: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["environment"].choices = _choices(environments)


class SecretEditForm(UIForm):
    id_prefix = "secret-edit"
    value = forms.CharField(
        label="New value",
        required=False,
        strip=False,
        help_text="Leave empty to keep the current value.",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "unchanged", **_MONO}),
    )
    comment = forms.CharField(
        label="Comment", required=False, max_length=1000, help_text="Leave empty to keep the current comment."
    )
    new_key = forms.CharField(label="Key", max_length=256, widget=forms.TextInput(attrs=_MONO))
    owner_label = forms.CharField(label="Owner", required=False, max_length=120)
    purpose = forms.CharField(label="Purpose", required=False, max_length=500)
    expires_at = forms.DateField(label="Expires", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    tags = forms.MultipleChoiceField(label="Tags", required=False, widget=forms.CheckboxSelectMultiple)
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, tags: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tags"].choices = _choices(tags)

    def expires_at_datetime(self) -> datetime.datetime | None:
        day = self.cleaned_data.get("expires_at")
        if day is None:
            return None
        return datetime.datetime.combine(day, datetime.time(23, 59, 59), tzinfo=datetime.UTC)


class RotationPolicyForm(UIForm):
    id_prefix = "rotation-policy"
    interval_days = forms.IntegerField(
        label="Rotate every (days)",
        required=False,
        min_value=1,
        max_value=3650,
        help_text="Leave empty for no schedule.",
    )
    owner = forms.TypedChoiceField(label="Rotation owner", required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, owners: Iterable[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "— nobody —"), *owners]


class FolderCreateForm(UIForm):
    id_prefix = "folder"
    name = forms.CharField(
        label="Folder name", max_length=64, widget=forms.TextInput(attrs={"placeholder": "backend", **_MONO})
    )
    environments = forms.MultipleChoiceField(label="Create in", widget=forms.CheckboxSelectMultiple)
    path = forms.CharField(widget=forms.HiddenInput, initial="/")

    def __init__(self, *args: Any, environments: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["environments"].choices = _choices(environments)


class ImportCreateForm(UIForm):
    id_prefix = "import"
    environment = forms.ChoiceField(label="Into")
    source_environment = forms.ChoiceField(label="From environment")
    source_path = forms.CharField(label="From path", max_length=1024, initial="/", widget=forms.TextInput(attrs=_MONO))
    path = forms.CharField(widget=forms.HiddenInput, initial="/")

    def __init__(
        self, *args: Any, environments: Iterable[str] = (), sources: Iterable[str] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["environment"].choices = _choices(environments)
        self.fields["source_environment"].choices = _choices(sources)


class TagCreateForm(UIForm):
    id_prefix = "tag"
    slug = forms.CharField(
        label="New tag", max_length=64, widget=forms.TextInput(attrs={"placeholder": "pci", **_MONO})
    )


class MemberAddForm(UIForm):
    id_prefix = "member"
    email = forms.CharField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"placeholder": "name@company.com"})
    )
    role = forms.ChoiceField(label="Role")

    def __init__(self, *args: Any, roles: Iterable[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = list(roles)


class MemberRoleForm(UIForm):
    id_prefix = "member-role"
    role = forms.ChoiceField(label="Role")

    def __init__(self, *args: Any, roles: Iterable[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = list(roles)


class PersonAddForm(UIForm):
    id_prefix = "person"
    email = forms.CharField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"placeholder": "name@company.com"})
    )
    role = forms.ChoiceField(label="Organization role", choices=OrgRole.choices, initial=OrgRole.MEMBER)
    password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        help_text="Leave empty to generate one, shown once.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "placeholder": "generate"}),
    )


class PersonRoleForm(UIForm):
    id_prefix = "person-role"
    role = forms.ChoiceField(label="Organization role", choices=OrgRole.choices)


class PersonDeactivateForm(UIForm):
    id_prefix = "person-deactivate"
    reason = forms.CharField(label="Reason", required=False, max_length=500)


class PasswordChangeForm(UIForm):
    id_prefix = "password"
    current_password = forms.CharField(
        label="Current password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    new_password = forms.CharField(
        label="New password",
        strip=False,
        help_text="At least 12 characters, not a common password.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    confirm_password = forms.CharField(
        label="Confirm new password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        """The two new-password fields must match; otherwise nothing is changed."""
        data = super().clean() or {}
        new, confirm = data.get("new_password"), data.get("confirm_password")
        if new is not None and confirm is not None and new != confirm:
            self.add_error("confirm_password", "Does not match the new password: type the same password twice.")
        return data


RULE_ACTIONS = ["*", "secrets.*", *ACTIONS]


class RoleCreateForm(UIForm):
    id_prefix = "role"
    slug = forms.CharField(
        label="Slug", max_length=64, widget=forms.TextInput(attrs={"placeholder": "ci-readonly", **_MONO})
    )
    name = forms.CharField(
        label="Name", max_length=120, widget=forms.TextInput(attrs={"placeholder": "CI (read only)"})
    )
    rules = forms.CharField(required=False, widget=forms.HiddenInput)  # errors about rules land here


def parse_rule_rows(data: QueryDict, environments: Iterable[str]) -> list[dict[str, Any]]:
    """Rule rows from the role form: ``rule-<n>-effect|action|path|tags`` and checkboxes
    ``rule-<n>-env``. Rows without an action are skipped (the form always offers a blank one)."""
    known_envs = set(environments)
    indexes = sorted(
        {int(name.split("-")[1]) for name in data if name.startswith("rule-") and name.split("-")[1].isdigit()}
    )
    rules = []
    for index in indexes:
        prefix = f"rule-{index}-"
        action = data.get(prefix + "action", "").strip()
        if not action:
            continue
        rules.append(
            {
                "effect": data.get(prefix + "effect", "allow"),
                "action": action,
                "environments": [env for env in data.getlist(prefix + "env") if env in known_envs],
                "path": data.get(prefix + "path", "").strip() or "/**",
                "tags": [tag.strip() for tag in data.get(prefix + "tags", "").split(",") if tag.strip()],
            }
        )
    return rules


class AuditFilterForm(UIForm):
    id_prefix = "audit"
    action = forms.CharField(
        label="Action",
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": "secret.*", "list": "audit-actions", **_MONO}),
    )
    actor = forms.CharField(
        label="Actor", required=False, max_length=200, widget=forms.TextInput(attrs={"placeholder": "email or id"})
    )
    outcome = forms.ChoiceField(label="Outcome", required=False, choices=[("", "Any"), *Outcome.choices])
    environment = forms.ChoiceField(label="Environment", required=False)
    since = forms.DateField(label="Since", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="Until", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    before = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, environments: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["environment"].choices = [("", "Any"), *_choices(environments)]

    def filters(self) -> dict[str, Any]:
        """The filters for ``audit_event_list``: whole days, in UTC."""
        data = self.cleaned_data
        since, until = data.get("since"), data.get("until")
        return {
            "action": data.get("action") or "",
            "actor": data.get("actor") or "",
            "outcome": data.get("outcome") or "",
            "environment": data.get("environment") or "",
            "since": datetime.datetime.combine(since, datetime.time.min, tzinfo=datetime.UTC) if since else None,
            "until": datetime.datetime.combine(until, datetime.time.max, tzinfo=datetime.UTC) if until else None,
        }


class OrganizationAuditFilterForm(AuditFilterForm):
    """The project viewer's filters, free-text environment, and which events: the organization's
    own (no project) or also every project's."""

    scope = forms.ChoiceField(
        label="Events",
        required=False,
        choices=[("", "Organization"), ("all", "With projects")],
    )
    environment = forms.CharField(label="Environment", required=False, max_length=64)  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super(AuditFilterForm, self).__init__(*args, **kwargs)  # no environment menu: free text


EXPORT_FORMAT_CHOICES = [("jsonl", "JSON Lines"), ("csv", "CSV"), ("cef", "CEF")]


class AuditExportForm(forms.Form):
    format = forms.ChoiceField(choices=EXPORT_FORMAT_CHOICES)


def role_choices(custom_roles: Iterable[str | tuple[str, str]], *, may_grant_admin: bool) -> list[tuple[str, str]]:
    builtins = [
        (choice.value, choice.label) for choice in BuiltinRole if may_grant_admin or choice != BuiltinRole.ADMIN
    ]
    # A custom role is offered as (slug, name); a bare slug is its own label.
    return builtins + [(role, role) if isinstance(role, str) else role for role in custom_roles]
