"""The organization's Notifications page (org admins only): channels, their routes, "send test",
and recent deliveries with failures highlighted."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from notifications.channels.registry import CHANNELS
from notifications.models import ChannelRoute, NotificationChannel
from notifications.selectors import (
    channel_get_for,
    channel_list,
    delivery_list,
    failed_count_recent,
    notifications_admin_require,
)
from notifications.services import channel_create, channel_delete, channel_test, channel_update, routes_set
from notifications.ui.forms import RouteForm, channel_form_class, channel_forms
from secrets_app.errors import DomainError
from secrets_app.models import Organization, Project
from secrets_app.plugins import plugin_initial
from secrets_app.ui.framework import apply_domain_error, org_view, page_or_partial, principal_of

ALIASES_PREFIXES = ("config.", "credentials.")


def _field_aliases(kind_name: str) -> dict[str, str]:
    kind = CHANNELS.get(kind_name)
    return {f"{field.group}.{field.name}": field.name for field in kind.fields} | {
        f"config.{field.name}[{index}]": field.name for field in kind.fields for index in range(50)
    }


def _projects(organization: Organization) -> list[tuple[str, str]]:
    return [
        (slug, name) for slug, name in Project.objects.filter(organization=organization).values_list("slug", "name")
    ]


def _page(request: HttpRequest, organization: Organization, *, status: int = 200, **extra: Any) -> HttpResponse:
    context = {
        "organization": organization,
        "nav": "notifications",
        "channels": channel_list([organization]),
        "deliveries": delivery_list([organization], limit=50),
        "failed_recent": failed_count_recent(organization.pk),
        "add_forms": extra.pop("add_forms", None) or channel_forms(),
        "route_form": RouteForm(projects=_projects(organization)),
        **extra,
    }
    return page_or_partial(request, "notifications/page.html", context, partial=extra.get("partial"), status=status)


@require_http_methods(["GET", "POST"])
@org_view
def notifications_page(request: HttpRequest, organization: Organization) -> HttpResponse:
    """GET: the page. POST (``kind`` names the form): add a channel, with one route, tested at once."""
    principal = principal_of(request)
    notifications_admin_require(principal, organization)
    if request.method == "GET":
        return _page(request, organization)
    kind_name = request.POST.get("kind", "")
    if kind_name not in CHANNELS:
        return _page(request, organization, status=400, notice="Unknown channel kind.")
    kind = CHANNELS.get(kind_name)
    form = channel_form_class(kind, editing=False)(request.POST)
    route_form = RouteForm(request.POST, projects=_projects(organization))
    if form.is_valid() and route_form.is_valid():
        config, credentials = form.plugin_values()  # type: ignore[attr-defined]
        try:
            channel = channel_create(
                principal=principal,
                organization=organization,
                kind=kind_name,
                name=form.cleaned_data["name"],
                enabled=bool(form.cleaned_data.get("enabled", True)),
                config=config,
                credentials=credentials,
                routes=[route_form.route()],
            )
        except DomainError as exc:
            apply_domain_error(form, exc, aliases=_field_aliases(kind_name))
        else:
            result = "sent a test message" if channel.last_test_status == "ok" else "could not send a test message"
            return _page(request, organization, notice=f"Channel {channel.name} saved; Strongroom {result}.")
    add_forms = [(k, form if k.kind == kind_name else f) for k, f in channel_forms()]
    return _page(request, organization, status=422, add_forms=add_forms, open_kind=kind_name)


def _channel_page(
    request: HttpRequest,
    organization: Organization,
    channel: NotificationChannel,
    form: Any = None,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    kind = CHANNELS.get(channel.kind)
    if form is None:
        form = channel_form_class(kind, editing=True)(
            initial={"name": channel.name, "enabled": channel.enabled, **plugin_initial(kind, channel.config)}
        )
    context = {
        "organization": organization,
        "nav": "notifications",
        "channel": channel,
        "kind": kind,
        "form": form,
        "route_form": extra.pop("route_form", None) or RouteForm(projects=_projects(organization)),
        "routes": list(channel.routes.select_related("project")),
        **extra,
    }
    return page_or_partial(request, "notifications/channel.html", context, status=status)


@require_http_methods(["GET", "POST"])
@org_view
def channel_page(request: HttpRequest, organization: Organization, channel_id: str) -> HttpResponse:
    """GET: the channel's settings and routes. POST: save settings (secret fields left empty keep
    their stored value); new settings are tested at once."""
    principal = principal_of(request)
    notifications_admin_require(principal, organization)
    channel = channel_get_for(principal, str(channel_id), organization=organization)
    if request.method == "GET":
        return _channel_page(request, organization, channel)
    kind = CHANNELS.get(channel.kind)
    form = channel_form_class(kind, editing=True)(request.POST)
    if form.is_valid():
        config, credentials = form.plugin_values()  # type: ignore[attr-defined]
        try:
            channel_update(
                principal=principal,
                channel=channel,
                name=form.cleaned_data["name"],
                enabled=bool(form.cleaned_data.get("enabled")),
                config=config,
                credentials=credentials,
            )
        except DomainError as exc:
            apply_domain_error(form, exc, aliases=_field_aliases(channel.kind))
        else:
            return redirect(reverse("notifications_ui:page", args=[organization.slug]))
    return _channel_page(request, organization, channel, form, status=422)


@require_POST
@org_view
def channel_test_view(request: HttpRequest, organization: Organization, channel_id: str) -> HttpResponse:
    principal = principal_of(request)
    notifications_admin_require(principal, organization)
    channel = channel_get_for(principal, str(channel_id), organization=organization)
    ok, message = channel_test(principal=principal, channel=channel)
    notice = f"Test message {'sent' if ok else 'failed'}: {message}"
    return _page(request, organization, partial="channels_section", notice=notice)


@require_POST
@org_view
def channel_delete_view(request: HttpRequest, organization: Organization, channel_id: str) -> HttpResponse:
    principal = principal_of(request)
    notifications_admin_require(principal, organization)
    channel = channel_get_for(principal, str(channel_id), organization=organization)
    name = channel.name
    channel_delete(principal=principal, channel=channel)
    return _page(request, organization, partial="channels_section", notice=f"Channel {name} deleted.")


def _route_dicts(channel: NotificationChannel, *, without: int | None = None) -> list[dict[str, Any]]:
    return [
        {
            "project": route.project.slug if route.project is not None else None,
            "events": route.event_kinds,
            "digest": route.digest,
        }
        for route in ChannelRoute.objects.filter(channel=channel).select_related("project")
        if route.pk != without
    ]


@require_POST
@org_view
def route_add_view(request: HttpRequest, organization: Organization, channel_id: str) -> HttpResponse:
    principal = principal_of(request)
    notifications_admin_require(principal, organization)
    channel = channel_get_for(principal, str(channel_id), organization=organization)
    route_form = RouteForm(request.POST, projects=_projects(organization))
    if route_form.is_valid():
        try:
            routes_set(principal=principal, channel=channel, routes=[*_route_dicts(channel), route_form.route()])
        except DomainError as exc:
            route_form.add_error(None, exc.message)
        else:
            return redirect(reverse("notifications_ui:channel", args=[organization.slug, channel.public_id]))
    return _channel_page(request, organization, channel, route_form=route_form, status=422)


@require_POST
@org_view
def route_delete_view(request: HttpRequest, organization: Organization, channel_id: str, route_id: int) -> HttpResponse:
    principal = principal_of(request)
    notifications_admin_require(principal, organization)
    channel = channel_get_for(principal, str(channel_id), organization=organization)
    routes_set(principal=principal, channel=channel, routes=_route_dicts(channel, without=route_id))
    return redirect(reverse("notifications_ui:channel", args=[organization.slug, channel.public_id]))
