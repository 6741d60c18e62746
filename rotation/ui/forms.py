"""Forms of the rotation pages: they parse and shape input only; the services decide.

A definition form is built per kind from the connection fields its plugin declares (the
dynamic-secret provider the kind reuses, through ``secrets_app.plugins.plugin_form_class``): root
credentials are password inputs, never pre-filled and, when editing, optional ("leave empty to
keep"). Where a rotation lives, its kind, mode, users and owned keys are fixed once saved (the
service changes only the description, the schedule and the root credentials).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from django import forms
from django.template import engines
from django.utils.module_loading import import_string

from rotation.kinds.base import RotationKind
from rotation.kinds.registry import kind_plugin
from rotation.models import Rotation, RotationMode
from rotation.services.rotations import RotationChange, RotationInput
from secrets_app.plugins import PluginKind, plugin_form_class
from secrets_app.ui.forms import UIForm

MONO = {"class": "mono", "autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)\Z")

SINGLE_USER_TRADE_OFF = (
    "Consumers holding the old password fail from the moment it is changed until they read the new "
    "value, so expect a short outage at every rotation. Use it only when a second user is impossible."
)
ALTERNATE_HELP = (
    "Two existing users take turns: each rotation changes the inactive one, logs in as it and only then "
    "switches the secrets, so the previous password keeps working for one more interval. No downtime."
)


@lru_cache(maxsize=32)
def _compiled(path: Path, modified_ns: int) -> Any:
    return engines["django"].from_string(path.read_text(encoding="utf-8"))


def kind_folder_template(path: Path) -> Any:
    """The template *path* (a file in a kind's folder), compiled by the project's template engine so
    its ``{% include "components/…" %}`` resolve as in any page; ``{% include form.fields_template %}``
    takes it like a named template. Compiled again when the file changes (a development edit)."""
    return _compiled(path, path.stat().st_mtime_ns)


def owned_key_field(label: str, initial: str) -> forms.CharField:
    """The name of one secret the rotation owns in its folder."""
    return forms.CharField(
        label=label,
        max_length=255,
        initial=initial,
        help_text="A new key in the folder; the rotation owns it.",
        widget=forms.TextInput(attrs=MONO),
    )


class ScheduleFields(UIForm):
    """Every N days at a UTC time, or a cron expression in UTC."""

    schedule = forms.ChoiceField(
        label="Schedule",
        choices=[("interval", "Every N days at a UTC time"), ("cron", "Cron expression (UTC)")],
        initial="interval",
        widget=forms.RadioSelect,
    )
    interval_days = forms.IntegerField(label="Every (days)", min_value=1, max_value=3650, initial=30, required=False)
    rotate_at = forms.CharField(
        label="At (UTC, HH:MM)", max_length=5, initial="00:00", required=False, widget=forms.TextInput(attrs=MONO)
    )
    cron = forms.CharField(
        label="Cron (UTC)",
        max_length=120,
        required=False,
        help_text="Five fields: minute hour day month weekday, e.g. 0 3 * * 1 (Mondays 03:00).",
        widget=forms.TextInput(attrs={**MONO, "placeholder": "0 3 * * 1"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("schedule") == "cron":
            if not (data.get("cron") or "").strip():
                self.add_error("cron", "Enter a cron expression, or choose every N days.")
        else:
            if not data.get("interval_days"):
                self.add_error("interval_days", "Enter a number of days, or choose cron.")
            if not _TIME_RE.match((data.get("rotate_at") or "").strip()):
                self.add_error("rotate_at", "A UTC time as HH:MM, e.g. 03:30.")
        return data

    def schedule_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data["schedule"] == "cron":
            return {"cron": data["cron"].strip(), "interval_days": None}
        match = _TIME_RE.match(data["rotate_at"].strip())
        assert match is not None
        return {
            "cron": "",
            "interval_days": data["interval_days"],
            "rotate_at_hour": int(match.group(1)),
            "rotate_at_minute": int(match.group(2)),
        }

    @classmethod
    def error_aliases(cls) -> dict[str, str]:
        return {"intervalDays": "interval_days", "rotateAtUtc": "rotate_at"}


class RotationBaseForm(ScheduleFields):
    """What every rotation has, whatever its kind; the kind's connection fields are added by
    :func:`rotation_form_class`."""

    id_prefix = "rot"
    # The kind's own fieldsets (users, lifecycle, owned secrets), a file in its folder
    # (``Path(__file__).with_name("form_fields.html")``); None: the mode and two users of SQL kinds.
    fields_template_file: ClassVar[Path | None] = None
    name = forms.CharField(
        label="Name",
        max_length=64,
        help_text="Lower-case letters, digits and '-'.",
        widget=forms.TextInput(attrs={**MONO, "placeholder": "e.g. app-db"}),
    )
    environment = forms.ChoiceField(label="Environment")
    path = forms.CharField(widget=forms.HiddenInput, initial="/")
    kind = forms.CharField(widget=forms.HiddenInput)
    description = forms.CharField(label="Description", max_length=256, required=False)
    mode = forms.ChoiceField(
        label="Mode",
        choices=RotationMode.choices,
        initial=RotationMode.ALTERNATE,
        widget=forms.RadioSelect,
    )
    user_1 = forms.CharField(
        label="User 1",
        max_length=63,
        help_text="An existing user of the database whose password the rotation changes.",
        widget=forms.TextInput(attrs=MONO),
    )
    user_2 = forms.CharField(
        label="User 2 (two-user mode)",
        max_length=63,
        required=False,
        help_text="A second existing user with the same grants; leave empty in single-user mode.",
        widget=forms.TextInput(attrs=MONO),
    )
    key_username = owned_key_field("Secret key for the username", "DB_USERNAME")
    key_password = owned_key_field("Secret key for the password", "DB_PASSWORD")

    plugin_kind: ClassVar[PluginKind]  # set by plugin_form_class
    rotation_kind: ClassVar[RotationKind]

    def __init__(self, *args: Any, environments: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        environment = self.fields["environment"]
        assert isinstance(environment, forms.ChoiceField)
        environment.choices = [(env, env) for env in environments]
        self.initial.setdefault("kind", self.rotation_kind.kind)
        port = getattr(self.plugin_kind, "default_port", None)
        if port and "port" in self.fields:
            self.initial.setdefault("port", port)

    def connection_fields(self) -> list[forms.BoundField]:
        return [self[declared.name] for declared in self.plugin_kind.fields]

    @property
    def fields_template(self) -> Any:
        """The kind's own fieldsets for ``templates/rotation/form.html``; None when it has none."""
        return kind_folder_template(self.fields_template_file) if self.fields_template_file else None

    @classmethod
    def error_aliases(cls) -> dict[str, str]:
        aliases = {f"{declared.group}.{declared.name}": declared.name for declared in cls.plugin_kind.fields}
        aliases.update(
            {
                "intervalDays": "interval_days",
                "rotateAtUtc": "rotate_at",
                "usernames": "user_1",
                "secretsMapping": "key_username",
                "config": "host",
            }
        )
        return aliases

    # What differs per kind: the target's users (or principal), the owned keys, the mode.
    def target_usernames(self, config: dict[str, Any]) -> list[str]:
        data = self.cleaned_data
        users = [data["user_1"].strip()]
        if data["mode"] == RotationMode.ALTERNATE and data.get("user_2"):
            users.append(data["user_2"].strip())
        return users

    def owned_mapping(self) -> dict[str, str]:
        return {
            "username": self.cleaned_data["key_username"].strip(),
            "password": self.cleaned_data["key_password"].strip(),
        }

    def rotation_mode(self) -> str:
        return str(self.cleaned_data["mode"])

    def rotation_input(self) -> RotationInput:
        config, credentials = self.plugin_values()  # type: ignore[attr-defined]
        data = self.cleaned_data
        schedule = self.schedule_values()
        return RotationInput(
            name=data["name"],
            kind=self.rotation_kind.kind,
            config={key: value for key, value in config.items() if value not in (None, "")},
            credentials=credentials,
            usernames=self.target_usernames(config),
            secrets_mapping=self.owned_mapping(),
            mode=self.rotation_mode(),
            interval_days=schedule["interval_days"],
            rotate_at_hour=schedule.get("rotate_at_hour", 0),
            rotate_at_minute=schedule.get("rotate_at_minute", 0),
            cron=schedule["cron"],
            description=data.get("description") or "",
        )


def rotation_form_class(kind: RotationKind) -> type[RotationBaseForm]:
    """The new-rotation form of *kind*: the base fields (or those of the kind's own form, named
    by its ``form``) plus the kind's declared connection fields."""
    base: type[RotationBaseForm] = import_string(kind.form.replace(":", ".")) if kind.form else RotationBaseForm
    form_class: type[RotationBaseForm] = plugin_form_class(kind_plugin(kind), base=base)
    form_class.rotation_kind = kind
    return form_class


class RotationEditForm(ScheduleFields):
    """Description, schedule and new root credentials (the kind's secret fields: empty keeps)."""

    id_prefix = "rot-edit"
    description = forms.CharField(label="Description", max_length=256, required=False)

    def __init__(self, *args: Any, kind: RotationKind, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plugin = kind_plugin(kind)
        secret_form: type[forms.Form] = plugin_form_class(plugin, editing=True)
        self.secret_names = [declared.name for declared in plugin.secret_fields]
        for name in self.secret_names:
            self.fields[name] = secret_form.base_fields[name]

    def credential_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.secret_names]

    def change(self) -> RotationChange:
        schedule = self.schedule_values()
        credentials = {name: self.cleaned_data[name] for name in self.secret_names if self.cleaned_data.get(name)}
        return RotationChange(
            description=self.cleaned_data.get("description") or "",
            interval_days=schedule["interval_days"],
            rotate_at_hour=schedule.get("rotate_at_hour"),
            rotate_at_minute=schedule.get("rotate_at_minute"),
            cron=schedule["cron"],
            credentials=credentials or None,
        )


def edit_initial(rotation: Rotation) -> dict[str, Any]:
    return {
        "description": rotation.description,
        "schedule": "cron" if rotation.cron else "interval",
        "interval_days": rotation.interval_days or 30,
        "rotate_at": f"{rotation.rotate_at_hour:02d}:{rotation.rotate_at_minute:02d}",
        "cron": rotation.cron,
    }


class RevealSettingsForm(UIForm):
    """What a reveal in one environment sets in motion (``Environment.reveal_marks_due`` and
    ``reveal_rotation_hours``), one form per environment on the rotations tab."""

    environment = forms.CharField(widget=forms.HiddenInput)
    enabled = forms.BooleanField(label="A reveal here schedules rotation", required=False)
    hours = forms.IntegerField(
        label="Within (hours, 0: at once)",
        min_value=0,
        max_value=168,
        initial=24,
        widget=forms.NumberInput(attrs={"class": "rot-hours"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        slug = self.initial.get("environment") or (self.data.get("environment") if self.data else "") or "env"
        self.auto_id = f"reveal-{slug}-%s"
        # One row of a table per environment: the inputs sit in cells, tied to the row's form by id.
        for name in ("enabled", "hours"):
            self.fields[name].widget.attrs["form"] = f"reveal-form-{slug}"
