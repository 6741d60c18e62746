"""The parity page: project → Governance → Parity. Pick two environments (and a folder), see the
keys missing in the target, the extra ones there and those with the same value in both.

The comparison runs only when the form is submitted (it reads values: one audited
``environment.parity_checked`` event per check), never on merely opening the page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from governance.selectors.parity import Unknown, environment_parity
from governance.ui.header import project_header
from secrets_app.errors import DomainError, NotFound, PermissionDenied
from secrets_app.models import Environment
from secrets_app.selectors.access import ProjectScope
from secrets_app.ui.framework import page_or_partial, project_view

PAGE = "governance/parity.html"

UNKNOWN_REASONS = {
    Unknown.PRESENCE: "you may not list it in the other environment",
    Unknown.VALUE: "you may not read its value in both environments",
}


def _environments(scope: ProjectScope) -> list[Environment]:
    """The project's environments the caller may list secrets somewhere in, in position order."""
    return [
        environment
        for environment in Environment.objects.filter(project=scope.project).order_by("position", "id")
        if scope.access.can_anywhere_in("secrets.read", environment.slug)
    ]


def _rows(report: Any, places: list[tuple[str, str]], environments: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"path": path, "key": key, "quarantined": any(report.is_quarantined(env, (path, key)) for env in environments)}
        for path, key in places
    ]


@project_view
def parity_page(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    environments = _environments(scope)
    slugs = [environment.slug for environment in environments]
    asked = "from" in request.GET and "to" in request.GET
    source = request.GET.get("from") or (slugs[-2] if len(slugs) > 1 else "")
    target = request.GET.get("to") or (slugs[-1] if slugs else "")
    path = request.GET.get("path") or "/"
    recursive = request.GET.get("recursive", "true" if not asked else "") in ("true", "on", "1")
    context: dict[str, Any] = {
        **project_header(scope.project, scope.access),
        "environments": environments,
        "source": source,
        "target": target,
        "path": path,
        "recursive": recursive,
        "report": None,
        "error": "",
    }
    if asked:
        try:
            report = environment_parity(scope, source=source, target=target, path=path, recursive=recursive)
        except (NotFound, PermissionDenied) as exc:
            # One environment the caller may not see, or no read at this path there: say so on the
            # page (the refusal is audited); the project page itself stays.
            context["error"] = exc.message if isinstance(exc, PermissionDenied) else "No such environment or folder."
        except DomainError as exc:
            context["error"] = exc.message
        else:
            if request.GET.get("format") == "csv":
                from governance.selectors.parity import parity_rows_csv
                from governance.ui.views_dashboard import _csv

                filename = f"{scope.project.slug}-parity-{report.source}-{report.target}.csv"
                return _csv(parity_rows_csv(report), filename)  # type: ignore[return-value]
            both = (report.source, report.target)
            context["report"] = report
            context["missing"] = _rows(report, report.missing, (report.source,))
            context["extra"] = _rows(report, report.extra, (report.target,))
            context["same_value"] = _rows(report, report.same_value, both)
            context["unknown"] = [
                {"path": path_, "key": key, "reason": UNKNOWN_REASONS.get(reason, reason)}
                for path_, key, reason in report.unknown
            ]
    return page_or_partial(request, PAGE, context, partial="result")
