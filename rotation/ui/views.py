"""Rotation pages: the project's rotations (status, last and next run, rotate now, pause/resume),
a new rotation per kind (tested live before it is saved), a rotation's settings and attempts,
edit and delete.

Thin: parse, call one service or selector, render. Controls the caller may not use are hidden; the
services refuse them anyway (403 page, audited). No page ever holds a password: root credentials
are write-only and the owned secrets' values are not read here.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from rotation.kinds.base import IssuedCredentialKind
from rotation.kinds.registry import KINDS, kind_for, kind_plugin
from rotation.models import Rotation, RotationStatus
from rotation.selectors import rotation_attempts, rotation_by_id, rotation_list
from rotation.services.permissions import can_manage_rotations, can_rotate, require_manage_rotations
from rotation.services.rotations import (
    rotation_create,
    rotation_delete,
    rotation_request_now,
    rotation_set_paused,
    rotation_update,
)
from rotation.ui.forms import (
    ALTERNATE_HELP,
    SINGLE_USER_TRADE_OFF,
    RevealSettingsForm,
    RotationBaseForm,
    RotationEditForm,
    edit_initial,
    rotation_form_class,
)
from secrets_app.errors import DomainError, NotFound, ValidationFailed
from secrets_app.paths import canonical_path
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.matrix import ColumnState, matrix_columns
from secrets_app.selectors.projects import environment_list
from secrets_app.services.projects import environment_update
from secrets_app.ui.framework import apply_domain_error, is_htmx, page_or_partial, project_view, redirect_to

ENVIRONMENTS_MANAGE = "environments.manage"
LIST_PAGE = "rotation/list.html"
FORM_PAGE = "rotation/form.html"
DETAIL_PAGE = "rotation/detail.html"
ISSUED_MODE_LABEL = "Two keys, alternate"


def _detail_url(rotation: Rotation, **query: str) -> str:
    url = reverse("rotation_ui:detail", args=[rotation.project.slug, rotation.public_id])
    return url + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


def _can_manage(scope: ProjectScope, rotation: Rotation) -> bool:
    return can_manage_rotations(scope, environment=rotation.environment.slug, path=rotation.folder.path)


def _can_rotate(scope: ProjectScope, rotation: Rotation) -> bool:
    return can_rotate(scope, environment=rotation.environment.slug, path=rotation.folder.path)


def mode_label(rotation: Rotation) -> str:
    """How the rotation alternates, in words: kinds whose target issues the credential (AWS, Entra)
    alternate two keys of one principal, not two users."""
    if isinstance(kind_for(rotation.kind), IssuedCredentialKind):
        return ISSUED_MODE_LABEL
    return str(rotation.get_mode_display())


def _base(scope: ProjectScope, **extra: Any) -> dict[str, Any]:
    return {"project": scope.project, "scope": scope, "role": scope.access.role, "nav": "rotations", **extra}


# --- the list ---------------------------------------------------------------------------------------


def _reveal_settings(scope: ProjectScope, form: RevealSettingsForm | None = None) -> list[Any]:
    """(environment, form) per environment for project admins (``environments.manage``), else []:
    what a reveal there sets in motion. *form* replaces the bound form of its environment."""
    if not scope.access.can(ENVIRONMENTS_MANAGE):
        return []
    rows = []
    for env in environment_list(scope):
        if form is not None and form.data.get("environment") == env.slug:
            rows.append((env, form))
            continue
        initial = {"environment": env.slug, "enabled": env.reveal_marks_due, "hours": env.reveal_rotation_hours}
        rows.append((env, RevealSettingsForm(initial=initial)))
    return rows


# A page that queued a run refreshes itself every few seconds until a newer attempt has finished
# (or while one runs), so "Rotate now" ends on the result without a reload.
POLL_SECONDS = 2


def _poll_after(rotation: Rotation, after: int | None) -> int | None:
    """The attempt id to wait past when a run of *rotation* is queued (*after*: the newest attempt
    id when it was queued) or running; None when there is nothing to wait for."""
    if after is None and rotation.status == RotationStatus.RUNNING:
        finished = rotation.attempts.filter(finished_at__isnull=False).order_by("-id")
        after = finished.values_list("id", flat=True).first() or 0
    if after is None or rotation.attempts.filter(pk__gt=after, finished_at__isnull=False).exists():
        return None
    return after


def _after(request: HttpRequest) -> int | None:
    raw = request.GET.get("after") or ""
    return int(raw) if raw.isdigit() else None


def _newest_attempt_id(rotation: Rotation) -> int:
    return rotation.attempts.order_by("-id").values_list("id", flat=True).first() or 0


def _list_context(scope: ProjectScope, *, awaiting: dict[int, int] | None = None, **extra: Any) -> dict[str, Any]:
    """*awaiting*: {rotation id: newest attempt id when its run was queued}."""
    rotations = rotation_list(scope)
    reveal_form = extra.pop("reveal_form", None)
    waiting: dict[int, int] = {}
    for rotation in rotations:
        after = _poll_after(rotation, (awaiting or {}).get(rotation.pk))
        if after is not None:
            waiting[rotation.pk] = after
    rows = [
        (
            rotation,
            kind_for(rotation.kind).label,
            mode_label(rotation),
            _can_rotate(scope, rotation),
            _can_manage(scope, rotation),
        )
        for rotation in rotations
    ]
    poll_url = ""
    if waiting:
        query = ",".join(f"{pk}:{after}" for pk, after in sorted(waiting.items()))
        poll_url = reverse("rotation_ui:list", args=[scope.project.slug]) + f"?awaiting={query}"
    return _base(
        scope,
        poll_url=poll_url,
        poll_seconds=POLL_SECONDS,
        awaiting_ids=set(waiting),
        rows=rows,
        # A column of empty cells for someone who may do nothing (a viewer) is dropped; managing
        # implies rotating, so "may rotate" is "has an action".
        show_actions=any(row[3] for row in rows),
        can_create=can_manage_rotations(scope),
        reveal_rows=_reveal_settings(scope, reveal_form),
        reveal_grace_minutes=settings.STRONGROOM_ROTATION_REVEAL_GRACE_MINUTES,
        **extra,
    )


@require_GET
@project_view
def rotation_list_page(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """The project's rotations the caller may see (``secrets.read`` at their folder). With
    ``?awaiting=<rotation id>:<attempt id>,…`` (the table polling itself), htmx gets the table."""
    awaiting: dict[int, int] = {}
    for pair in (request.GET.get("awaiting") or "").split(","):
        pk, _, after = pair.partition(":")
        if pk.isdigit() and after.isdigit():
            awaiting[int(pk)] = int(after)
    return page_or_partial(request, LIST_PAGE, _list_context(scope, awaiting=awaiting), partial="rotation_table")


def _rotation_action(request: HttpRequest, scope: ProjectScope, rotation_id: uuid.UUID, action: str) -> HttpResponse:
    """Rotate now, pause or resume; answers the list's table (htmx) or the page the button was on.
    A refusal is a 403 page; a run in progress (409) is a message above the table."""
    rotation = rotation_by_id(scope, str(rotation_id))
    notice = error = ""
    status = 200
    after: int | None = None
    try:
        if action == "rotate":
            after = _newest_attempt_id(rotation)
            rotation_request_now(scope=scope, rotation=rotation)
            notice = f"Rotation of {rotation.name} queued; this page shows the result when it has run."
        else:
            rotation_set_paused(scope=scope, rotation=rotation, paused=action == "pause")
            notice = f"{rotation.name} {'paused: no scheduled runs' if action == 'pause' else 'resumed'}."
    except DomainError as exc:
        if exc.status == 403:
            raise
        error, status = exc.message, exc.status
    if request.POST.get("from") == "detail":
        rotation.refresh_from_db()
        context = _detail_context(scope, rotation, page_notice=notice, page_error=error, after=after)
        if is_htmx(request):
            return page_or_partial(request, DETAIL_PAGE, context, partial="status_card", status=status)
        return page_or_partial(request, DETAIL_PAGE, context, status=status)
    context = _list_context(
        scope, awaiting={rotation.pk: after} if after is not None else None, notice=notice, error=error
    )
    return page_or_partial(request, LIST_PAGE, context, partial="rotation_table", status=status)


@require_POST
@project_view
def rotation_rotate_view(request: HttpRequest, scope: ProjectScope, rotation_id: uuid.UUID) -> HttpResponse:
    return _rotation_action(request, scope, rotation_id, "rotate")


@require_POST
@project_view
def rotation_pause_view(request: HttpRequest, scope: ProjectScope, rotation_id: uuid.UUID) -> HttpResponse:
    return _rotation_action(request, scope, rotation_id, "pause")


@require_POST
@project_view
def rotation_resume_view(request: HttpRequest, scope: ProjectScope, rotation_id: uuid.UUID) -> HttpResponse:
    return _rotation_action(request, scope, rotation_id, "resume")


@require_POST
@project_view
def rotation_reveal_settings_view(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """Save what a reveal in one environment sets in motion (project admins: the service refuses
    others, 403). Answers the settings card (htmx) or the whole list page."""
    form = RevealSettingsForm(request.POST)
    notice, status = "", 422
    if form.is_valid():
        data = form.cleaned_data
        try:
            env = environment_update(
                scope=scope,
                slug=data["environment"],
                reveal_marks_due=data["enabled"],
                reveal_rotation_hours=data["hours"],
            )
        except ValidationFailed as exc:
            apply_domain_error(form, exc, aliases={"revealRotationHours": "hours"})
        else:
            when = f"within {env.reveal_rotation_hours} h" if env.reveal_rotation_hours else "at once"
            notice = (
                f"Saved: a reveal in {env.slug} now schedules the owning rotation {when} (other secrets: marked due)."
                if env.reveal_marks_due
                else f"Saved: a reveal in {env.slug} no longer schedules anything."
            )
            status = 200
    # A saved form is rebuilt from the stored values; a refused one keeps what was typed.
    context = _list_context(scope, reveal_form=form if status != 200 else None, reveal_notice=notice)
    return page_or_partial(request, LIST_PAGE, context, partial="reveal_settings", status=status)


# --- new and edit -----------------------------------------------------------------------------------


def _definable_environments(scope: ProjectScope, path: str) -> list[str]:
    """Environments whose folder at *path* exists and where the caller may manage rotations."""
    return [
        column.slug
        for column in matrix_columns(scope, path)
        if column.state != ColumnState.NO_FOLDER and can_manage_rotations(scope, environment=column.slug, path=path)
    ]


def _form_context(scope: ProjectScope, form: Any, **extra: Any) -> dict[str, Any]:
    return _base(
        scope,
        form=form,
        kinds=KINDS.kinds(),
        single_user_trade_off=SINGLE_USER_TRADE_OFF,
        alternate_help=ALTERNATE_HELP,
        **extra,
    )


@require_http_methods(["GET", "POST"])
@project_view
def rotation_new(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """GET: the form of one kind (``?kind=``; htmx asks for the form alone when another tab is
    picked). POST: create, after the root credentials logged in."""
    data = request.POST if request.method == "POST" else request.GET
    path = canonical_path(data.get("path") or "/")
    environments = _definable_environments(scope, path)
    if not environments:
        require_manage_rotations(scope, environment=data.get("environment") or "", path=path, resource="rotation")
        raise NotFound(f"No folder at {path} in any environment: create it first")
    name = data.get("kind") or ""
    kind = kind_for(name if name in KINDS else KINDS.kinds()[0][0])
    form_class = rotation_form_class(kind)
    initial = {"path": path, "environment": data.get("environment") or environments[0]}
    if request.method == "GET":
        form: RotationBaseForm = form_class(initial=initial, environments=environments)
        return page_or_partial(
            request, FORM_PAGE, _form_context(scope, form, kind=kind, path=path), partial="rotation_form"
        )
    form = form_class(request.POST, initial=initial, environments=environments)
    if form.is_valid():
        try:
            rotation = rotation_create(
                scope=scope, environment=form.cleaned_data["environment"], path=path, data=form.rotation_input()
            )
        except DomainError as exc:
            apply_domain_error(form, exc, aliases=form.error_aliases())
        else:
            return redirect_to(request, _detail_url(rotation, saved="created"))
    context = _form_context(scope, form, kind=kind, path=path)
    return page_or_partial(request, FORM_PAGE, context, partial="rotation_form", status=422)


@require_http_methods(["GET", "POST"])
@project_view
def rotation_edit(request: HttpRequest, scope: ProjectScope, rotation_id: uuid.UUID) -> HttpResponse:
    """Description, schedule and new root credentials (tested live; empty keeps the stored ones)."""
    rotation = rotation_by_id(scope, str(rotation_id))
    require_manage_rotations(
        scope, environment=rotation.environment.slug, path=rotation.folder.path, resource=rotation.name
    )
    kind = kind_for(rotation.kind)
    form = RotationEditForm(request.POST or None, initial=edit_initial(rotation), kind=kind)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                rotation_update(scope=scope, rotation=rotation, change=form.change())
            except DomainError as exc:
                apply_domain_error(form, exc, aliases={**form.error_aliases(), "config": "__all__"})
            else:
                return redirect_to(request, _detail_url(rotation, saved="updated"))
        status = 422
    context = _form_context(scope, form, kind=kind, rotation=rotation, path=rotation.folder.path)
    return page_or_partial(request, FORM_PAGE, context, partial="rotation_form", status=status)


@require_POST
@project_view
def rotation_delete_view(request: HttpRequest, scope: ProjectScope, rotation_id: uuid.UUID) -> HttpResponse:
    """Delete the definition (the owned secrets stay); refused while a run holds it."""
    rotation = rotation_by_id(scope, str(rotation_id))
    try:
        rotation_delete(scope=scope, rotation=rotation)
    except DomainError as exc:
        if exc.status == 403:
            raise
        return page_or_partial(
            request, DETAIL_PAGE, _detail_context(scope, rotation, page_error=exc.message), status=exc.status
        )
    return redirect_to(request, reverse("rotation_ui:list", args=[scope.project.slug]) + "?deleted=1")


# --- one rotation -----------------------------------------------------------------------------------


def _detail_context(
    scope: ProjectScope, rotation: Rotation, *, after: int | None = None, **extra: Any
) -> dict[str, Any]:
    plugin = kind_plugin(kind_for(rotation.kind))
    wait_past = _poll_after(rotation, after)
    awaiting = wait_past is not None
    poll_url = _detail_url(rotation, fragment="status", after=str(wait_past)) if awaiting else ""
    return _base(
        scope,
        rotation=rotation,
        awaiting=awaiting,
        poll_url=poll_url,
        poll_seconds=POLL_SECONDS,
        kind=kind_for(rotation.kind),
        config_fields=[
            (declared.label, rotation.config.get(declared.name))
            for declared in plugin.config_fields
            if rotation.config.get(declared.name) not in (None, "")
        ],
        credential_labels=[declared.label for declared in plugin.secret_fields],
        issued=isinstance(kind_for(rotation.kind), IssuedCredentialKind),
        mode_label=mode_label(rotation),
        attempts=rotation_attempts(rotation, limit=50),
        can_manage=_can_manage(scope, rotation),
        can_rotate=_can_rotate(scope, rotation),
        single_user_trade_off=SINGLE_USER_TRADE_OFF,
        **extra,
    )


@require_GET
@project_view
def rotation_page(request: HttpRequest, scope: ProjectScope, rotation_id: uuid.UUID) -> HttpResponse:
    rotation = rotation_by_id(scope, str(rotation_id))
    notice = {
        "created": "Rotation saved: the root credentials logged in. Its first run issues the credential.",
        "updated": "Changes saved.",
    }.get(request.GET.get("saved") or "", "")
    context = _detail_context(scope, rotation, page_notice=notice, after=_after(request))
    partial = "status_card" if request.GET.get("fragment") == "status" else None
    return page_or_partial(request, DETAIL_PAGE, context, partial=partial)
