"""The organization's Audit streams pages (org admins only): streams with their lag and health
(refreshed every few seconds), "add a stream" per kind, and per stream its settings, replay and
parked events. Thin: every write is one service call; access is decided in the selectors."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from audit.streams.models import AuditStream
from audit.streams.registry import STREAM_KINDS
from audit.streams.selectors import (
    parked_events,
    stream_get_for,
    stream_list,
    stream_status,
    streams_admin_require,
)
from audit.streams.services import (
    START_AT_END,
    stream_create,
    stream_delete,
    stream_pause,
    stream_replay,
    stream_resume,
    stream_test,
    stream_update,
)
from audit.streams.ui.forms import ReplayForm, stream_form_class, stream_forms
from secrets_app.errors import DomainError
from secrets_app.models import Organization
from secrets_app.plugins import plugin_initial
from secrets_app.ui.framework import apply_domain_error, is_htmx, org_view, page_or_partial, principal_of, redirect_to

PAGE = "audit_streams/page.html"
DETAIL = "audit_streams/stream.html"
REFRESH_SECONDS = 5


def _field_aliases(kind_name: str) -> dict[str, str]:
    kind = STREAM_KINDS.get(kind_name)
    return {f"{field.group}.{field.name}": field.name for field in kind.fields} | {
        "lagAlertSeconds": "lag_alert_seconds"
    }


def _rows(organization: Organization) -> list[tuple[AuditStream, Any]]:
    return [(stream, stream_status(stream)) for stream in stream_list(organization)]


def _page(request: HttpRequest, organization: Organization, *, status: int = 200, **extra: Any) -> HttpResponse:
    context = {
        "organization": organization,
        "nav": "audit_streams",
        "rows": _rows(organization),
        "add_forms": extra.pop("add_forms", None) or stream_forms(),
        "refresh_seconds": REFRESH_SECONDS,
        **extra,
    }
    return page_or_partial(request, PAGE, context, partial=extra.get("partial"), status=status)


@require_http_methods(["GET", "POST"])
@org_view
def streams_page(request: HttpRequest, organization: Organization) -> HttpResponse:
    """GET: the page (htmx: the streams table only, for the auto-refresh). POST (``kind`` names the
    form): add a stream, tested first."""
    principal = principal_of(request)
    streams_admin_require(principal, organization)
    if request.method == "GET":
        return _page(request, organization, partial="streams_section")
    kind_name = request.POST.get("kind", "")
    if kind_name not in STREAM_KINDS:
        return _page(request, organization, status=400, error="Unknown stream kind.")
    kind = STREAM_KINDS.get(kind_name)
    form = stream_form_class(kind, editing=False)(request.POST)
    if form.is_valid():
        config, credentials = form.plugin_values()  # type: ignore[attr-defined]
        try:
            stream = stream_create(
                principal=principal,
                organization=organization,
                kind=kind_name,
                name=form.cleaned_data["name"],
                config=config,
                credentials=credentials,
                lag_alert_seconds=form.cleaned_data["lag_alert_seconds"],
                start=form.cleaned_data.get("start") or START_AT_END,
                test=bool(form.cleaned_data.get("test")),
            )
        except DomainError as exc:
            apply_domain_error(form, exc, aliases=_field_aliases(kind_name))
        else:
            tested = " The test event was accepted." if stream.last_test_status == "ok" else ""
            return _page(request, organization, notice=f"Stream {stream.name} added.{tested}")
    add_forms = [(k, form if k.kind == kind_name else f) for k, f in stream_forms()]
    return _page(request, organization, status=422, add_forms=add_forms, open_kind=kind_name)


def _detail(
    request: HttpRequest,
    organization: Organization,
    stream: AuditStream,
    form: Any = None,
    *,
    replay_form: ReplayForm | None = None,
    status: int = 200,
    partial: str | None = None,
    **extra: Any,
) -> HttpResponse:
    kind = STREAM_KINDS.get(stream.kind)
    if form is None:
        form = stream_form_class(kind, editing=True)(
            initial={
                "name": stream.name,
                "lag_alert_seconds": stream.lag_alert_seconds,
                "test": True,
                **plugin_initial(kind, stream.config),
            }
        )
    context = {
        "organization": organization,
        "nav": "audit_streams",
        "stream": stream,
        "status": stream_status(stream),
        "kind": kind,
        "form": form,
        "replay_form": replay_form or ReplayForm(),
        "parked": parked_events(stream),
        "refresh_seconds": REFRESH_SECONDS,
        **extra,
    }
    return page_or_partial(request, DETAIL, context, partial=partial, status=status)


@require_http_methods(["GET", "POST"])
@org_view
def stream_page(request: HttpRequest, organization: Organization, stream_id: str) -> HttpResponse:
    """GET: status, settings, replay and parked events (htmx: the status card only). POST: save the
    settings (secret fields left empty keep their stored value); new settings are tested first."""
    principal = principal_of(request)
    stream = stream_get_for(principal, organization, str(stream_id))
    if request.method == "GET":
        return _detail(request, organization, stream, partial="status_card")
    form = stream_form_class(STREAM_KINDS.get(stream.kind), editing=True)(request.POST)
    if form.is_valid():
        config, credentials = form.plugin_values()  # type: ignore[attr-defined]
        try:
            stream_update(
                principal=principal,
                stream=stream,
                name=form.cleaned_data["name"],
                config=config,
                credentials=credentials,
                lag_alert_seconds=form.cleaned_data["lag_alert_seconds"],
                test=bool(form.cleaned_data.get("test")),
            )
        except DomainError as exc:
            apply_domain_error(form, exc, aliases=_field_aliases(stream.kind))
            stream.refresh_from_db()
        else:
            return _detail(request, organization, stream, notice=f"Stream {stream.name} saved.")
    return _detail(request, organization, stream, form, status=422)


def _after_action(
    request: HttpRequest, organization: Organization, stream: AuditStream | None, notice: str, *, ok: bool = True
) -> HttpResponse:
    """From the list (htmx): the streams table with a notice. From the stream's page: that page."""
    success, failure = (notice, "") if ok else ("", notice)
    if is_htmx(request) or stream is None or request.POST.get("from") != "detail":
        return _page(request, organization, partial="streams_section", notice=success, error=failure)
    stream.refresh_from_db()
    return _detail(request, organization, stream, notice=success, error=failure)


@require_POST
@org_view
def stream_test_view(request: HttpRequest, organization: Organization, stream_id: str) -> HttpResponse:
    stream = stream_get_for(principal_of(request), organization, str(stream_id))
    ok, message = stream_test(principal=principal_of(request), stream=stream)
    return _after_action(
        request, organization, stream, f"Test event to {stream.name} {'accepted' if ok else 'failed'}: {message}", ok=ok
    )


@require_POST
@org_view
def stream_pause_view(request: HttpRequest, organization: Organization, stream_id: str) -> HttpResponse:
    stream = stream_get_for(principal_of(request), organization, str(stream_id))
    stream_pause(principal=principal_of(request), stream=stream)
    return _after_action(request, organization, stream, f"Stream {stream.name} paused; events wait as lag.")


@require_POST
@org_view
def stream_resume_view(request: HttpRequest, organization: Organization, stream_id: str) -> HttpResponse:
    stream = stream_get_for(principal_of(request), organization, str(stream_id))
    stream_resume(principal=principal_of(request), stream=stream)
    return _after_action(request, organization, stream, f"Stream {stream.name} resumed.")


@require_POST
@org_view
def stream_replay_view(request: HttpRequest, organization: Organization, stream_id: str) -> HttpResponse:
    principal = principal_of(request)
    stream = stream_get_for(principal, organization, str(stream_id))
    replay_form = ReplayForm(request.POST)
    if replay_form.is_valid():
        try:
            replayed = stream_replay(
                principal=principal,
                stream=stream,
                from_event_id=replay_form.cleaned_data.get("from_event_id"),
                since=replay_form.cleaned_data.get("since"),
            )
        except DomainError as exc:
            apply_domain_error(replay_form, exc, aliases={"fromEventId": "from_event_id"})
        else:
            stream.refresh_from_db()
            return _detail(
                request,
                organization,
                stream,
                notice=f"Replaying: the stream delivers again from after event {replayed.cursor_event_id}.",
            )
    return _detail(request, organization, stream, replay_form=replay_form, status=422)


@require_POST
@org_view
def stream_delete_view(request: HttpRequest, organization: Organization, stream_id: str) -> HttpResponse:
    stream = stream_get_for(principal_of(request), organization, str(stream_id))
    name = stream.name
    stream_delete(principal=principal_of(request), stream=stream)
    if request.POST.get("from") == "detail":
        # The stream's own page is gone: go to the list (htmx follows HX-Redirect).
        target = reverse("audit_streams_ui:page", args=[organization.slug])
        return redirect_to(request, target)
    return _page(request, organization, partial="streams_section", notice=f"Stream {name} deleted.")
