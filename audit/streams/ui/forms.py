"""Forms of the audit streams pages: each kind's form is built from its declared fields."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms

from audit.streams.base import StreamKind
from audit.streams.registry import STREAM_KINDS
from audit.streams.services import (
    LAG_ALERT_MAX_SECONDS,
    LAG_ALERT_MIN_SECONDS,
    START_AT_BEGINNING,
    START_AT_END,
)
from secrets_app.plugins import plugin_form_class
from secrets_app.ui.forms import UIForm

START_CHOICES = [
    (START_AT_END, "From now on (events recorded after the stream is added)"),
    (START_AT_BEGINNING, "From the beginning (every event the log still holds)"),
]
BASE_FIELDS = ("name", "lag_alert_seconds", "start", "test")


class StreamBaseForm(UIForm):
    name = forms.CharField(
        label="Name", max_length=120, widget=forms.TextInput(attrs={"placeholder": "e.g. Splunk (security team)"})
    )
    lag_alert_seconds = forms.IntegerField(
        label="Alert when lag exceeds (seconds)",
        initial=900,
        min_value=LAG_ALERT_MIN_SECONDS,
        max_value=LAG_ALERT_MAX_SECONDS,
        help_text="The organization's admins are notified when the oldest undelivered event is older than this.",
    )
    test = forms.BooleanField(
        label="Send a test event first (and do not save if it fails)", required=False, initial=True
    )


class StreamCreateBaseForm(StreamBaseForm):
    start = forms.ChoiceField(label="Deliver", choices=START_CHOICES, initial=START_AT_END, widget=forms.RadioSelect)


def stream_form_class(kind: StreamKind, *, editing: bool) -> type[UIForm]:
    """The kind's fields (secret ones as password inputs, never pre-filled; "leave empty to keep"
    when *editing*) after the stream's own fields."""
    base = StreamBaseForm if editing else StreamCreateBaseForm
    form_class: type[UIForm] = plugin_form_class(kind, editing=editing, base=base)
    form_class.id_prefix = f"stream-{kind.kind}"
    return form_class


def stream_forms() -> list[tuple[StreamKind, UIForm]]:
    """One empty "add" form per available kind."""
    return [
        (STREAM_KINDS.get(name), stream_form_class(STREAM_KINDS.get(name), editing=False)())
        for name, _ in STREAM_KINDS.kinds()
    ]


class ReplayForm(UIForm):
    id_prefix = "replay"
    from_event_id = forms.IntegerField(
        label="From event id", required=False, min_value=1, widget=forms.NumberInput(attrs={"placeholder": "e.g. 1042"})
    )
    since = forms.DateTimeField(
        label="Or from time (UTC)",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("from_event_id") is None) == (data.get("since") is None):
            raise forms.ValidationError("Give an event id or a time (one of them).")
        since = data.get("since")
        if since is not None:
            # The browser sends a local wall-clock time without a zone; the page says UTC.
            data["since"] = since.replace(tzinfo=datetime.UTC) if since.tzinfo is None else since
        return data
