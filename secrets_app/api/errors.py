"""One error shape for the native API::

    {"error": {"code": "validation_error", "message": "...", "fields": {"key": ["..."]}}, "requestId": "req-…"}

Messages never echo submitted values (a value field's error names the field, not its content).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from secrets_app.errors import DomainError
from secrets_app.keyring import SealedError


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    request_id = getattr(getattr(request, "_request", request), "request_id", "")
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.fields:
            body["fields"] = exc.fields
        return Response({"error": body, "requestId": request_id}, status=exc.status)
    if isinstance(exc, SealedError):
        return Response(
            {"error": {"code": "sealed", "message": f"Strongroom is sealed: {exc}"}, "requestId": request_id},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if isinstance(fields, list):
            fields = {"non_field_errors": fields}
        first = next(iter(fields.items())) if fields else ("request", ["invalid"])
        message_value = first[1][0] if isinstance(first[1], list) and first[1] else first[1]
        body = {"code": "validation_error", "message": f"{first[0]}: {message_value}", "fields": fields}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        body = {"code": code if isinstance(code, str) else "error", "message": str(detail)}
    response.data = {"error": body, "requestId": request_id}
    return response
