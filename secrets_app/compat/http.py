"""Request parsing, authentication, the Infisical error body and ETags for the compat views."""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import salted_hmac
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from audit.services import AuditWriteError
from secrets_app.crypto.envelope import DecryptionError
from secrets_app.errors import Conflict, DomainError, NotFound
from secrets_app.json_depth import JSONTooDeep, json_loads_bounded
from secrets_app.keyring import SealedError
from secrets_app.middleware import client_ip
from secrets_app.principals import Principal
from secrets_app.ratelimit import api_request_rate_limit
from secrets_app.write_gate import HeldForApproval

logger = logging.getLogger("strongroom.compat")
ETAG_HMAC_SALT = "strongroom.compat.etag"  # with SECRET_KEY: the ETag key

ERROR_NAMES = {
    400: "BadRequest",
    401: "UnauthorizedError",
    403: "PermissionDenied",
    404: "NotFound",
    422: "ValidationFailure",
    423: "Locked",
    429: "RateLimitExceeded",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


class CompatError(Exception):
    """An answer in Infisical's error shape."""

    def __init__(
        self,
        status: int,
        message: Any,
        *,
        error: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(str(message))
        self.status = status
        self.message = message
        self.error = error or ERROR_NAMES.get(status, "Error")
        self.details = details
        self.headers = headers or {}


class Invalid(CompatError):
    """422 ValidationFailure with a zod-like issue list as the message."""

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        super().__init__(422, issues, error="ValidationFailure")


def issue(field: str, message: str, code: str = "custom") -> dict[str, Any]:
    return {"code": code, "path": [field], "message": message}


def error_body(request: HttpRequest, status: int, message: Any, error: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reqId": getattr(request, "request_id", "") or f"req-{uuid.uuid4().hex[:14]}",
        "statusCode": status,
        "message": message,
        "error": error,
    }
    if details is not None:
        body["details"] = details
    return body


def _domain_error(exc: DomainError) -> CompatError:
    if isinstance(exc, NotFound):
        if "path" in exc.fields:
            return CompatError(404, exc.message, error="SecretPathNotFound")
        return CompatError(404, exc.message, error="NotFound")
    if exc.status == 403:
        return CompatError(
            403, exc.message, error="PermissionDenied", details=[{"message": exc.message, "fields": exc.fields}]
        )
    if isinstance(exc, Conflict):
        return CompatError(400, exc.message, error="BadRequest")
    if exc.status == 400:
        return CompatError(400, exc.message, error="BadRequest")
    return CompatError(exc.status, exc.message)


def to_compat_error(exc: Exception) -> CompatError | None:
    """Map what services, selectors and login modules raise onto Infisical's answers."""
    if isinstance(exc, CompatError):
        return exc
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:  # the login rate limiter
        message = getattr(exc, "message", None) or str(exc)
        return CompatError(
            429, message, error="RateLimitExceeded", headers={"Retry-After": str(math.ceil(retry_after))}
        )
    if isinstance(exc, DomainError):
        return _domain_error(exc)
    if isinstance(exc, SealedError):
        return CompatError(503, f"Strongroom is sealed: {exc}")
    if isinstance(exc, AuditWriteError):
        return CompatError(503, "The audit log could not record this request, so it was not performed.")
    if isinstance(exc, DecryptionError):
        return CompatError(500, "Stored ciphertext failed its integrity check; nothing was returned.")
    if isinstance(exc, OperationalError | InterfaceError):
        return CompatError(503, "The database is unavailable; try again shortly.")
    # Login and rate-limit errors of the identity modules carry their own HTTP status.
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 600:
        message = getattr(exc, "message", None) or getattr(exc, "reason", None) or str(exc)
        return CompatError(status, str(message))
    return None


def token_error(exc: Any) -> CompatError:
    """An access token that cannot be used: Infisical answers 403 TokenError for a bad or expired
    JWT, 403 for a refused IP, 401 for a revoked or used-up token."""
    reason = getattr(exc, "reason", str(exc))
    if getattr(exc, "expired", False):
        return CompatError(403, "Your token has expired. Please re-authenticate.", error="TokenError")
    if reason == "Invalid access token":
        return CompatError(403, "Invalid token. Please re-authenticate.", error="TokenError")
    if "IP" in reason:
        return CompatError(403, reason, error="PermissionDenied")
    return CompatError(401, reason, error="UnauthorizedError")


def authenticate(request: HttpRequest) -> Principal:
    """``Authorization: Bearer <token>``: a machine identity's access token (or a person's API token).
    The token's row is left on ``request.auth``, as DRF does (run-scoped leases read it)."""
    if request.META.get("HTTP_X_API_KEY"):
        raise CompatError(400, "API keys are not supported; use a machine identity access token")
    header = request.META.get("HTTP_AUTHORIZATION", "").strip()
    if not header:
        raise CompatError(401, "Token missing", error="UnauthorizedError")
    raw = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not raw:
        raise CompatError(401, "Token missing", error="UnauthorizedError")
    from secrets_app.identities.access_tokens import TokenError, access_token_authenticate, looks_like_identity_token
    from secrets_app.request_audit import token_rejected_record

    if looks_like_identity_token(raw):
        try:
            row = access_token_authenticate(raw_token=raw, ip=client_ip(request))
        except TokenError as exc:
            token_rejected_record(raw_token=raw, reason=exc.reason, surface="compat")
            raise token_error(exc) from None
        request.auth = row  # type: ignore[attr-defined]  # as DRF's request.auth: the token row
        return Principal.for_identity(row.identity, access_epoch=getattr(row, "access_epoch", None), token_id=row.pk)
    if raw.startswith("st."):
        token_rejected_record(raw_token=None, reason="Service tokens are not supported", surface="compat")
        raise CompatError(401, "Service tokens are not supported; use a machine identity", error="UnauthorizedError")
    from secrets_app.services.personal_tokens import personal_token_authenticate

    user, token = personal_token_authenticate(raw_token=raw)
    if user is None:
        token_rejected_record(raw_token=raw, reason="Invalid, expired or revoked token", surface="compat")
        raise CompatError(403, "Invalid token. Please re-authenticate.", error="TokenError")
    request.auth = token  # type: ignore[attr-defined]
    return Principal.for_user(user, access_epoch=getattr(token, "access_epoch", None))


class Params:
    """Query string (GET) or JSON body (other methods) with Infisical's lenient extras ignored."""

    def __init__(self, data: dict[str, Any], *, source: str) -> None:
        self.data = data
        self.source = source
        self.issues: list[dict[str, Any]] = []

    def first(self, *names: str) -> Any:
        for name in names:
            value = self.data.get(name)
            if value is not None and value != "":
                return value
        return None

    def string(self, *names: str, required: bool = False, default: str | None = None) -> str | None:
        value = self.first(*names)
        if value is None:
            if required:
                self.issues.append(issue(names[0], "Required", "invalid_type"))
            return default
        if not isinstance(value, str):
            self.issues.append(issue(names[0], "Expected string", "invalid_type"))
            return default
        return value

    def boolean(self, *names: str, default: bool, strict: bool = True) -> bool:
        """Secrets routes accept exactly ``true``/``false`` (a JSON bool in bodies); v2 folders are lenient."""
        value = self.first(*names)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value)
        if text in ("true", "false"):
            return text == "true"
        if not strict and text.lower() in ("true", "false", "1", "0", "yes", "no"):
            return text.lower() in ("true", "1", "yes")
        self.issues.append(issue(names[0], "Invalid enum value. Expected 'true' | 'false'", "invalid_enum_value"))
        return default

    def integer(self, *names: str) -> int | None:
        value = self.first(*names)
        if value is None:
            return None
        if isinstance(value, bool):
            self.issues.append(issue(names[0], "Expected number", "invalid_type"))
            return None
        try:
            return int(str(value))
        except ValueError:
            self.issues.append(issue(names[0], "Expected number, received nan", "invalid_type"))
            return None

    def string_list(self, *names: str) -> list[str] | None:
        value = self.first(*names)
        if value is None:
            return None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        self.issues.append(issue(names[0], "Expected array of strings", "invalid_type"))
        return None

    def check(self) -> None:
        if self.issues:
            raise Invalid(self.issues)


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        data = json_loads_bounded(request.body)
    except JSONTooDeep as exc:
        raise CompatError(400, f"Body is {exc}; it may nest at most {exc.limit} levels", error="BadRequest") from None
    except (ValueError, UnicodeDecodeError):
        raise CompatError(400, "Body is not valid JSON", error="BadRequest") from None
    if not isinstance(data, dict):
        raise Invalid([issue("body", "Expected object, received " + type(data).__name__, "invalid_type")])
    return data


def params_of(request: HttpRequest) -> Params:
    """GET: the query string (a body, which some clients send on GET, is ignored). Others: the JSON
    body, with query parameters as a fallback for names the body does not carry."""
    query = {key: request.GET.get(key) for key in request.GET}
    if request.method in ("GET", "HEAD"):
        return Params(query, source="query")
    return Params({**query, **_json_body(request)}, source="body")


def etag_response(request: HttpRequest, payload: dict[str, Any], status: int = 200) -> HttpResponse:
    """JSON answer with a strong ETag; a matching ``If-None-Match`` gets 304 and no body."""
    content = json.dumps(payload, separators=(",", ":"), default=str).encode()
    # Keyed: the body holds plaintext values, and an unkeyed digest of it would let anyone who sees
    # the ETag (a proxy log, a cache) test guesses of those values offline.
    etag = '"' + salted_hmac(ETAG_HMAC_SALT, content, algorithm="sha256").hexdigest()[:40] + '"'
    wanted = [item.strip() for item in request.META.get("HTTP_IF_NONE_MATCH", "").split(",") if item.strip()]
    if request.method == "GET" and status == 200 and (etag in wanted or f"W/{etag}" in wanted or "*" in wanted):
        response = HttpResponse(status=304)
        response["ETag"] = etag
        return response
    response = HttpResponse(content, status=status, content_type="application/json; charset=utf-8")
    if request.method == "GET":
        response["ETag"] = etag
    return response


def _audit_invalid(request: HttpRequest, principal: Principal | None, error: CompatError) -> None:
    """One ``request.invalid`` event for a write refused for its input: the offending field names
    (zod-like issue paths), never the values."""
    from secrets_app.request_audit import request_invalid_record

    issues = error.message if isinstance(error.message, list) else []
    fields = [
        ".".join(str(part) for part in item.get("path", [])) or "body" for item in issues if isinstance(item, dict)
    ]
    try:
        request_invalid_record(
            principal=principal,
            method=request.method or "",
            url_path=request.path,
            fields=fields or ["body"],
            surface="compat",
            status=error.status,
        )
    except AuditWriteError:
        # The request is refused and changed nothing either way: answer the 4xx, never a 500.
        logger.error("request %s: request.invalid could not be audited", getattr(request, "request_id", ""))


@method_decorator(csrf_exempt, name="dispatch")
class CompatView(View):
    """Dispatches to ``get``/``post``/... with Infisical's auth and error handling.

    Handlers take ``(request, principal, params, **kwargs)`` and return a dict (JSON with ETag) or
    an HttpResponse. ``public = True`` views (logins) get ``principal=None`` and ignore any
    Authorization header (the Node SDK sends a stale one on re-login).
    """

    public = False
    http_method_names = ["get", "post", "patch", "put", "delete"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        handler: Callable[..., Any] | None = getattr(self, request.method.lower(), None)  # type: ignore[union-attr]
        if handler is None or request.method.lower() not in self.http_method_names:  # type: ignore[union-attr]
            return JsonResponse(
                error_body(request, 404, f"Route {request.method}:{request.get_full_path()} not found", "Not Found"),
                status=404,
            )
        principal = None
        try:
            if not self.public:
                principal = authenticate(request)
                # The same per-principal budget as /api/v1 (secrets_app.ratelimit).
                api_request_rate_limit(principal=principal, method=request.method or "GET", surface="compat")
            params = params_of(request)
            result = handler(request, principal, params, **kwargs)
        except HeldForApproval as held:
            # Infisical answers a write that hits a change policy with 200 {"approval": …}.
            result = held.held.compat_body
        except Exception as exc:
            mapped = to_compat_error(exc)
            if mapped is None:
                logger.exception("compat request failed (request %s)", getattr(request, "request_id", ""))
                mapped = CompatError(500, "Something went wrong")
            if mapped.status in (400, 422) and request.method not in ("GET", "HEAD"):
                _audit_invalid(request, principal, mapped)
            response = JsonResponse(
                error_body(request, mapped.status, mapped.message, mapped.error, mapped.details), status=mapped.status
            )
            for name, value in mapped.headers.items():
                response[name] = value
            return response
        if isinstance(result, HttpResponse):
            return result
        return etag_response(request, result)
