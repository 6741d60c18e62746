"""One error shape for the native API::

    {"error": {"code": "validation_error", "message": "...", "fields": {"key": ["..."]}}, "requestId": "req-…"}

``fields`` is always flat, name → messages; nested names read like the services' own:
``secrets[1].key``, ``rules[0].action``, ``tags[2]``. Messages never echo submitted values (a value
field's error names the field, not its content).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from audit.services import AuditWriteError
from secrets_app.crypto.envelope import DecryptionError
from secrets_app.errors import DomainError
from secrets_app.keyring import SealedError
from secrets_app.write_gate import HeldForApproval

logger = logging.getLogger("strongroom.api")


def _join(prefix: str, key: Any) -> str:
    if not prefix:
        return str(key)
    return f"{prefix}[{key}]" if isinstance(key, int) or str(key).isdigit() else f"{prefix}.{key}"


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as ``{"secrets[0].version": ["..."]}``."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            flat.update(_flatten(value, _join(prefix, key)))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        flat = {}
        for index, item in enumerate(detail):
            flat.update(_flatten(item, _join(prefix, index)))
        return flat
    return {prefix or "non_field_errors": [str(detail)]}


def _server_failure(exc: Exception) -> tuple[str, str, int] | None:
    """Failures that are not the caller's fault, as (code, message, status), in the one shape."""
    if isinstance(exc, AuditWriteError):
        return "audit_unavailable", "The audit log could not record this request, so it was not performed.", 503
    if isinstance(exc, DecryptionError):
        return "integrity_error", "Stored ciphertext failed its integrity check; nothing was returned.", 500
    if isinstance(exc, OperationalError | InterfaceError):
        return "unavailable", "The database is unavailable; try again shortly.", 503
    return None


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _audit_invalid_write(request: Any, fields: list[str], status_code: int) -> None:
    """One ``request.invalid`` event (outcome deny) for a write refused for its input: who, which
    route, which fields — never the submitted values."""
    method = getattr(request, "method", "") or ""
    if method.upper() not in WRITE_METHODS:
        return
    from secrets_app.api.authentication import principal_of
    from secrets_app.request_audit import request_invalid_record

    # The authenticated caller if authentication ran; never trigger it from here.
    user = getattr(request, "_user", None)
    principal = principal_of(user) if user is not None and getattr(user, "is_authenticated", False) else None
    try:
        request_invalid_record(
            principal=principal,
            method=method.upper(),
            url_path=getattr(request, "path", ""),
            fields=fields,
            surface="api",
            status=status_code,
        )
    except AuditWriteError:
        # The request is refused and changed nothing either way: answer the 400, never a 500.
        logger.error("request %s: request.invalid could not be audited", getattr(request, "request_id", ""))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: a URL no route matches. Under ``/api/`` the answer is the API's JSON error
    (a client must never have to parse an HTML page); elsewhere Django's own page."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "error": {"code": "not_found", "message": "No such route or object"},
                "requestId": getattr(request, "request_id", ""),
            },
            status=404,
        )
    return page_not_found(request, exception or Http404())


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    request_id = getattr(getattr(request, "_request", request), "request_id", "")
    if isinstance(exc, HeldForApproval):
        # Not an error: the write was held for review (approvals). 202 with the request.
        return Response(exc.held.api_body, status=status.HTTP_202_ACCEPTED, headers={"Location": exc.held.url})
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.fields:
            body["fields"] = exc.fields
        if exc.status == 400:
            _audit_invalid_write(request, list(exc.fields) or ["request"], exc.status)
        return Response({"error": body, "requestId": request_id}, status=exc.status)
    if isinstance(exc, SealedError):
        return Response(
            {"error": {"code": "sealed", "message": f"Strongroom is sealed: {exc}"}, "requestId": request_id},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    failure = _server_failure(exc)
    if failure is not None:
        code, message, http_status = failure
        # Logged with the request id only: exception text can hold SQL or other details.
        logger.error("request %s failed: %s (%s)", request_id, code, type(exc).__name__)
        return Response({"error": {"code": code, "message": message}, "requestId": request_id}, status=http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        name, messages = next(iter(fields.items())) if fields else ("request", ["invalid"])
        body = {
            "code": "validation_error",
            "message": f"{name}: {messages[0] if messages else 'invalid'}",
            "fields": fields,
        }
        _audit_invalid_write(request, list(fields) or ["request"], response.status_code)
    else:
        if isinstance(exc, exceptions.ParseError | exceptions.UnsupportedMediaType):
            _audit_invalid_write(request, ["body"], response.status_code)
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        body = {"code": code if isinstance(code, str) else "error", "message": str(detail)}
    response.data = {"error": body, "requestId": request_id}
    return response
