"""Forms of the notifications page: built from each channel kind's declared fields."""

from __future__ import annotations

from typing import Any

from django import forms

from notifications.channels.base import ChannelKind
from notifications.channels.registry import CHANNELS
from secrets_app.plugins import plugin_form_class
from secrets_app.ui.forms import UIForm

EVENT_HELP = "Comma-separated, prefix matching: approvals.*, approvals.change_request, syncs.failed, * (everything)."


class ChannelBaseForm(UIForm):
    name = forms.CharField(
        label="Name", max_length=120, widget=forms.TextInput(attrs={"placeholder": "e.g. #platform-alerts"})
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)


class RouteForm(UIForm):
    id_prefix = "route"
    project = forms.ChoiceField(label="Project", required=False)
    events = forms.CharField(label="Events", initial="approvals.*", max_length=1000, help_text=EVENT_HELP)
    digest = forms.BooleanField(label="Daily digest instead of each message", required=False)

    def __init__(self, *args: Any, projects: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", "All projects")] + list(projects or [])  # type: ignore[attr-defined]

    def route(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"project": data["project"] or None, "events": data["events"], "digest": bool(data["digest"])}


def channel_form_class(kind: ChannelKind, *, editing: bool) -> type[UIForm]:
    """The kind's fields (secret ones as password inputs, never pre-filled) after name/enabled."""
    form_class: type[UIForm] = plugin_form_class(kind, editing=editing, base=ChannelBaseForm)
    form_class.id_prefix = f"channel-{kind.kind}"
    return form_class


def channel_forms(prefix_bound: str | None = None, data: Any = None) -> list[tuple[ChannelKind, UIForm]]:
    """One empty "add" form per available kind (the one named *prefix_bound* bound to *data*)."""
    forms_by_kind = []
    for kind_name, _ in CHANNELS.kinds():
        kind = CHANNELS.get(kind_name)
        form_class = channel_form_class(kind, editing=False)
        form = form_class(data) if prefix_bound == kind_name else form_class()
        forms_by_kind.append((kind, form))
    return forms_by_kind
