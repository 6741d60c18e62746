"""The governance dashboard pages (read-only)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from secrets_app.ui.shortcuts import login_required


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("ui:project_list")


@login_required
def org_dashboard(request: HttpRequest) -> HttpResponse:
    return redirect("ui:project_list")


@login_required
def org_risks(request: HttpRequest) -> HttpResponse:
    return redirect("ui:project_list")


@login_required
def project_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    return redirect("ui:project_detail", slug=slug)


@login_required
def project_risks(request: HttpRequest, slug: str) -> HttpResponse:
    return redirect("ui:project_detail", slug=slug)


@login_required
def secret_consumers(request: HttpRequest, slug: str, secret: str) -> HttpResponse:
    return redirect("ui:project_detail", slug=slug)
