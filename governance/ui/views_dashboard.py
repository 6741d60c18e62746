"""The governance dashboard pages (read-only): the organization home page, a project's Governance
tab, the risk lists behind every number, and one secret's "delivered to" page. Thin: the reach is
decided by ``governance.selectors.scope``, the numbers by the selectors, the charts by ``charts``."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from governance.selectors.dashboard import AGE_BUCKETS, FLAGS, dashboard_figures
from governance.selectors.risks import (
    SORTS,
    RiskFilters,
    consumer_rows_csv,
    risk_filters_parse,
    risk_flags_of,
    risk_list,
    risk_rows_csv,
    secret_consumers,
)
from governance.selectors.scope import DashboardScope, organization_dashboard_scope, project_dashboard_scope
from governance.ui import charts
from governance.ui.header import project_header
from secrets_app.errors import DomainError
from secrets_app.models import Organization
from secrets_app.principals import Principal
from secrets_app.selectors.access import is_org_admin
from secrets_app.selectors.organizations import organization_membership_list
from secrets_app.ui.framework import error_response, login_required, org_view, page_or_partial, principal_of

PAGE_SIZE = 50
FLAG_LABELS = dict(FLAGS)
AGE_LABELS = {key: label for key, label, *_ in AGE_BUCKETS}
SORT_LABELS = {"score": "Risk", "age": "Age", "last_delivered": "Last delivered", "key": "Key"}


def _csv(lines: Any, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def identity_access_url(project_slug: str, identity_public_id: Any) -> str | None:
    """The per-identity "granted vs delivered" page (``governance:identity_access``), when it exists."""
    if identity_public_id is None:
        return None
    try:
        return reverse("governance:identity_access", kwargs={"project": project_slug, "identity": identity_public_id})
    except NoReverseMatch:
        return None


# --- the dashboards --------------------------------------------------------------------------


def _count_links(scope: DashboardScope, risks_url: str) -> dict[str, str]:
    """Where each count leads: the filtered list behind it."""
    if scope.project is not None:
        slug = scope.project.slug
        return {
            "secrets": risks_url,
            "identities": reverse("ui:members", args=[slug]) + "#identities",
            "people": reverse("ui:members", args=[slug]),
            "syncs_healthy": reverse("syncs_ui:sync_list", args=[slug]),
            "syncs_failing": reverse("syncs_ui:sync_list", args=[slug]),
            "dynamic_secrets": reverse("dynamic_ui:leases", args=[slug]),
            "live_leases": reverse("dynamic_ui:leases", args=[slug]),
            "rotations_ok": reverse("rotation_ui:list", args=[slug]),
            "rotations_failing": reverse("rotation_ui:list", args=[slug]),
            "rotations_overdue": reverse("rotation_ui:list", args=[slug]),
            "pending_approvals": reverse("approvals:change_requests", args=[slug]),
            "leaked": f"{risks_url}?flag=leaked",
            "quarantined": f"{risks_url}?flag=quarantined",
        }
    org = scope.organization.slug
    # Syncs, rotations, leases and approvals are lists per project: the projects table below has
    # one link per project for each of them.
    per_project = "#projects"
    return {
        "secrets": risks_url,
        "identities": reverse("ui:identities", args=[org]),
        "people": reverse("ui:people", args=[org]),
        **{
            key: per_project
            for key in (
                "syncs_healthy",
                "syncs_failing",
                "dynamic_secrets",
                "live_leases",
                "rotations_ok",
                "rotations_failing",
                "rotations_overdue",
                "pending_approvals",
            )
        },
        "leaked": f"{risks_url}?flag=leaked",
        "quarantined": f"{risks_url}?flag=quarantined",
    }


def _charts(figures: dict[str, Any], risks_url: str) -> dict[str, Any]:
    data = figures["charts"]
    reads = data["reads"]
    trend = data["stale_trend"]
    top = data["top_consumers"]
    return {
        "age": charts.bar_chart(
            "chart-age",
            "Secrets by age since their last change",
            [b["label"] for b in data["age"]],
            [b["count"] for b in data["age"]],
            links=[f"{risks_url}?age={b['bucket']}&sort=-age" for b in data["age"]],
        ),
        "reads": charts.stacked_bars(
            "chart-reads",
            "Read events that delivered values, per environment, last 30 days",
            reads["days"],
            [charts.Series(s["environment"], s["values"]) for s in reads["series"]],
        ),
        "top": charts.horizontal_bars(
            "chart-top",
            "Top consumers by read events, last 30 days",
            [c["label"] for c in top],
            [c["events"] for c in top],
            "read events",
        ),
        "trend": charts.line_chart(
            "chart-trend",
            "Stale and never-delivered secrets per day",
            [p["day"] for p in trend],
            [
                charts.Series("stale", [p["stale"] for p in trend]),
                charts.Series("never delivered", [p["never_delivered"] for p in trend]),
            ],
        ),
        # the daily reads table (text alternative), newest first, days with reads only
        "reads_rows": [
            {"day": day, "values": [s["values"][i] for s in reads["series"]]}
            for i, day in reversed(list(enumerate(reads["days"])))
            if any(s["values"][i] for s in reads["series"])
        ],
    }


def _dashboard_context(scope: DashboardScope, risks_url: str) -> dict[str, Any]:
    figures = dashboard_figures(scope)
    links = _count_links(scope, risks_url)
    project = scope.project
    top = figures["charts"]["top_consumers"]
    for consumer in top:
        consumer["risks_url"] = (
            f"{risks_url}?consumer={consumer['kind']}:"
            f"{consumer['identity_public_id'] if consumer['kind'] == 'identity' else consumer['id']}"
        )
        consumer["access_url"] = (
            identity_access_url(project.slug, consumer["identity_public_id"]) if project is not None else None
        )
    return {
        "scope": scope,
        "organization": scope.organization,
        "figures": figures,
        "counts": [{"figure": f, "url": links[f.key]} for f in figures["counts"]],
        "flags": [{"figure": f, "url": f"{risks_url}?flag={f.key}"} for f in figures["flags"]],
        "charts": _charts(figures, risks_url),
        "risks_url": risks_url,
        "flag_labels": FLAG_LABELS,
    }


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The first page after signing in: the dashboard of the person's organization (the first, by
    slug, when they belong to several; the topbar links the others). Nobody's: the projects list."""
    memberships = organization_membership_list(request.user)
    if not memberships:
        return redirect("ui:project_list")
    return _organization_page(request, memberships[0].organization, home=True, memberships=memberships)


@org_view
@require_GET
def org_dashboard(request: HttpRequest, organization: Organization) -> HttpResponse:
    return _organization_page(request, organization)


def _organization_page(
    request: HttpRequest, organization: Organization, *, home: bool = False, memberships: list[Any] | None = None
) -> HttpResponse:
    scope = organization_dashboard_scope(principal_of(request), organization)
    risks_url = reverse("governance:org_risks", args=[organization.slug])
    context = _dashboard_context(scope, risks_url)
    context.update(
        {
            "nav": "dashboard",
            "home": home,
            "memberships": memberships if memberships is not None else organization_membership_list(request.user),
            "estate": _estate_card(principal_of(request), organization),
        }
    )
    return render(request, "governance/dashboard.html", context)


def _estate_card(principal: Principal, organization: Organization) -> dict[str, Any] | None:
    """The "Azure DevOps estate" card (organization admins only: the estate is theirs to see)."""
    if not is_org_admin(principal, organization.pk):
        return None
    from estate.selectors.inventory import estate_summary
    from estate.ui.views_common import SEVERITY_LABELS, SEVERITY_ORDER, counted

    summary = estate_summary(organization)
    return {
        "url": reverse("estate:home", args=[organization.slug]),
        "summary": summary,
        "counts": summary["counts"],
        "by_severity": counted(summary["findings_by_severity"], SEVERITY_LABELS, SEVERITY_ORDER),
    }


def _project_view(view: Any) -> Any:
    """``slug`` → the caller's DashboardScope of the project (404 outside it, 403 without
    ``governance.read``), domain errors as pages."""

    @login_required
    def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            scope = project_dashboard_scope(principal_of(request), slug)
            return view(request, scope, *args, **kwargs)
        except DomainError as exc:
            return error_response(request, exc, project_ref=slug)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _project_header(scope: DashboardScope, request: HttpRequest) -> dict[str, Any]:
    assert scope.project is not None and scope.access is not None
    return project_header(scope.project, scope.access)


@require_GET
@_project_view
def project_dashboard(request: HttpRequest, scope: DashboardScope) -> HttpResponse:
    assert scope.project is not None
    risks_url = reverse("governance:project_risks", args=[scope.project.slug])
    context = _dashboard_context(scope, risks_url)
    context.update(_project_header(scope, request))
    return render(request, "governance/project_dashboard.html", context)


# --- the lists -------------------------------------------------------------------------------


def _risk_page(
    request: HttpRequest, scope: DashboardScope, context: dict[str, Any], name: str
) -> HttpResponse | StreamingHttpResponse:
    try:
        filters = risk_filters_parse(request.GET)
    except DomainError as exc:
        filters = RiskFilters()
        context["filter_error"] = (
            exc.message + ": " + "; ".join(f"{field} {', '.join(problems)}" for field, problems in exc.fields.items())
        )
    rows = risk_list(scope, filters)
    if request.GET.get("format") == "csv" and "filter_error" not in context:
        return _csv(risk_rows_csv(rows), f"{name}-risks-{timezone.now():%Y%m%d}.csv")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    for row in page.object_list:
        row.flag_labels = risk_flags_of(row)
    environments = sorted(
        {(e.position, e.slug) for p in scope.projects for e in p.environments.all()}
        if scope.project is not None
        else set()
    )
    context.update(
        {
            "page": page,
            "filters": filters,
            "flag_choices": FLAGS,
            "sorts": [
                {
                    "label": SORT_LABELS[key],
                    "key": key,
                    "active": filters.sort.lstrip("-") == key,
                    "descending": filters.sort.startswith("-"),
                    "query": filters.query_string(sort=_next_sort(filters.sort, key)),
                }
                for key in SORTS
            ],
            "environments": [slug for _, slug in environments],
            "csv_query": filters.query_string(format="csv"),
            "age_label": AGE_LABELS.get(filters.age or "", ""),
            "no_age_query": filters.query_string(age=None),
            "page_query": filters.query_string(),
            "projects_choice": [p.slug for p in scope.projects] if scope.project is None else [],
        }
    )
    # The filter form (htmx) swaps only the results; a link or a reload gets the page.
    return page_or_partial(request, "governance/risks.html", context, partial="results")


def _next_sort(current: str, key: str) -> str:
    """Clicking a column sorts by it (riskiest, oldest, most recent first); again reverses."""
    default = {"score": "-score", "age": "-age", "last_delivered": "-last_delivered", "key": "key"}[key]
    if current.lstrip("-") != key:
        return default
    return current[1:] if current.startswith("-") else f"-{current}"


@org_view
@require_GET
def org_risks(request: HttpRequest, organization: Organization) -> HttpResponse:  # or a streamed CSV
    scope = organization_dashboard_scope(principal_of(request), organization)
    context = {
        "scope": scope,
        "organization": organization,
        "nav": "dashboard",
        "list_url": reverse("governance:org_risks", args=[organization.slug]),
        "dashboard_url": reverse("governance:org_dashboard", args=[organization.slug]),
    }
    return _risk_page(request, scope, context, organization.slug)  # type: ignore[return-value]


@require_GET
@_project_view
def project_risks(request: HttpRequest, scope: DashboardScope) -> HttpResponse | StreamingHttpResponse:
    assert scope.project is not None
    context = {
        "scope": scope,
        "organization": scope.organization,
        "list_url": reverse("governance:project_risks", args=[scope.project.slug]),
        "dashboard_url": reverse("governance:project_dashboard", args=[scope.project.slug]),
        **_project_header(scope, request),
    }
    return _risk_page(request, scope, context, scope.project.slug)


@require_GET
@_project_view
def secret_consumers_page(
    request: HttpRequest, scope: DashboardScope, secret_id: int
) -> HttpResponse | StreamingHttpResponse:
    """Who the secret's value was delivered to, with its risk facts."""
    assert scope.project is not None
    found = secret_consumers(scope, secret_id)
    if request.GET.get("format") == "csv":
        return _csv(consumer_rows_csv(found.deliveries), f"secret-{secret_id}-delivered-to-{timezone.now():%Y%m%d}.csv")
    for delivery in found.deliveries:
        delivery.access_url = identity_access_url(  # type: ignore[attr-defined]
            scope.project.slug, getattr(delivery, "identity_public_id", None)
        )
    context = {
        "scope": scope,
        "found": found,
        "secret": found.secret,
        "risk": found.risk,
        "flag_labels_of": risk_flags_of(found.risk) if found.risk is not None else [],
        **_project_header(scope, request),
    }
    return render(request, "governance/secret.html", context)
