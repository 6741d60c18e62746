"""The project's Quarantine page: unused secrets to quarantine (checkboxes, one click), the active
quarantines with their refused reads and Restore / Delete (once proposed), the leak flags with their
form, and the governance policy's thresholds. Every form posts to its own URL and the answer is the
page's body again (htmx swaps it; without htmx the whole page), with a notice or the error."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from governance.models import QuarantineStatus
from governance.selectors.leaks import leak_flag_list
from governance.selectors.quarantine import quarantine_candidates, quarantine_list
from governance.services.leaks import secret_leak_clear, secret_leak_flag
from governance.services.policy import POLICY_FIELDS, governance_policy_update
from governance.services.quarantine import secret_quarantine_delete, secret_quarantine_restore, secrets_quarantine
from governance.ui.header import project_header
from secrets_app.errors import DomainError, PermissionDenied, ValidationFailed
from secrets_app.models import Secret, SecretType
from secrets_app.selectors.access import ProjectScope
from secrets_app.ui.framework import is_htmx, page_or_partial, project_view
from secrets_app.write_gate import HeldForApproval

PAGE = "governance/quarantine.html"
MAX_FLAGGABLE = 2000


def _flaggable(scope: ProjectScope) -> list[Secret]:
    """Live shared secrets to pick in the leak-flag form (names only), those the caller may list."""
    rows = (
        Secret.objects.filter(project=scope.project, type=SecretType.SHARED, deleted_at__isnull=True)
        .select_related("environment", "folder")
        .order_by("environment__position", "folder__path", "key")[:MAX_FLAGGABLE]
    )
    return [
        secret
        for secret in rows
        if scope.access.can_for_some_tags("secrets.read", environment=secret.environment.slug, path=secret.folder.path)
    ]


def _context(scope: ProjectScope, **extra: Any) -> dict[str, Any]:
    candidates = quarantine_candidates(scope)
    can_manage = scope.access.can("governance.manage")
    return {
        **project_header(scope.project, scope.access),
        "candidates": candidates,
        "quarantines": quarantine_list(scope, status=QuarantineStatus.ACTIVE),
        "ended": quarantine_list(scope, status=None)[:20],
        "flags": leak_flag_list(scope),
        "flaggable": _flaggable(scope) if can_manage else [],
        "policy": candidates.policy,
        "policy_fields": POLICY_FIELDS,
        "can_manage": can_manage,
        **extra,
    }


def _answer(request: HttpRequest, scope: ProjectScope, *, status: int = 200, **extra: Any) -> HttpResponse:
    return page_or_partial(request, PAGE, _context(scope, **extra), partial="body", status=status)


def _ids(values: list[str], field: str) -> list[int]:
    try:
        return [int(value) for value in values]
    except ValueError:
        raise ValidationFailed(field, "must be secret ids") from None


def _acting(request: HttpRequest, scope: ProjectScope, action: Any, notice: Any) -> HttpResponse:
    """Run *action*; the body with ``notice(result)``, or with the error (its status) when it fails.
    A refusal (403) is answered by ``project_view`` as every other refusal is."""
    try:
        result = action()
    except PermissionDenied:
        raise
    except HeldForApproval:
        return _answer(request, scope, status=202, notice="A change policy holds this delete for review.")
    except DomainError as exc:
        return _answer(request, scope, status=exc.status, error=exc.message)
    if not is_htmx(request):  # a plain form (e.g. the secret panel's Restore): back to the page, no re-POST
        messages.success(request, notice(result))
        return redirect("governance:quarantine", scope.project.slug)
    return _answer(request, scope, notice=notice(result))


@require_http_methods(["GET", "POST"])
@project_view
def quarantine_page(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    """GET: the page. POST: quarantine the checked candidates (``secret`` ids, optional ``reason``)."""
    if request.method == "GET":
        return _answer(request, scope)
    ids = _ids(request.POST.getlist("secret"), "secrets")
    return _acting(
        request,
        scope,
        lambda: secrets_quarantine(scope=scope, secret_ids=ids, reason=request.POST.get("reason", "")),
        lambda rows: f"Quarantined {', '.join(row.secret.key for row in rows)}.",
    )


@require_POST
@project_view
def quarantine_restore(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    (secret_id,) = _ids([request.POST.get("secret", "")], "secret")
    return _acting(
        request,
        scope,
        lambda: secret_quarantine_restore(scope=scope, secret_id=secret_id),
        lambda row: f"Restored {row.secret.key}: its value is delivered again.",
    )


@require_POST
@project_view
def quarantine_delete(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    (secret_id,) = _ids([request.POST.get("secret", "")], "secret")
    return _acting(
        request,
        scope,
        lambda: secret_quarantine_delete(scope=scope, secret_id=secret_id),
        lambda row: f"Deleted {row.secret.key}. A rollback of its folder in History brings it back.",
    )


@require_POST
@project_view
def leak_flag(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    (secret_id,) = _ids([request.POST.get("secret", "")], "secret")
    return _acting(
        request,
        scope,
        lambda: secret_leak_flag(scope=scope, secret_id=secret_id, reason=request.POST.get("reason", "")),
        lambda flag: f"Flagged {flag.secret.key} as leaked. Rotate it: the flag ends when the value changes.",
    )


@require_POST
@project_view
def leak_clear(request: HttpRequest, scope: ProjectScope, flag: int) -> HttpResponse:
    return _acting(
        request,
        scope,
        lambda: secret_leak_clear(scope=scope, flag_id=flag, reason=request.POST.get("reason", "")),
        lambda cleared: f"Cleared the leak flag of {cleared.secret.key}.",
    )


@require_POST
@project_view
def policy_update(request: HttpRequest, scope: ProjectScope) -> HttpResponse:
    changes: dict[str, int | None] = {}
    for name, (_low, _high, nullable) in POLICY_FIELDS.items():
        if name not in request.POST:
            continue
        raw = request.POST[name].strip()
        if raw == "" and nullable:
            changes[name] = None
            continue
        try:
            changes[name] = int(raw)
        except ValueError:
            return _answer(request, scope, status=400, error=f"{name.replace('_', ' ')}: must be a whole number")
    return _acting(
        request,
        scope,
        lambda: governance_policy_update(scope=scope, changes=changes),
        lambda _policy: "Saved the governance policy.",
    )
