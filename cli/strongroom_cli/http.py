"""The one HTTP seam: JSON in, JSON out, retries, and errors mapped to exit codes.

Retries (``STRONGROOM_RETRIES``, default 3) with exponential backoff and full jitter on network
errors, 429 and 5xx (``Retry-After`` honoured, capped at 60 s); 503 ``sealed``, 401 and 403 are
final. POSTs carry an ``Idempotency-Key`` so a retried write runs once. Messages never contain the
token or a request body.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from strongroom_cli import __version__
from strongroom_cli.errors import (
    AUTH,
    FORBIDDEN,
    NOT_FOUND,
    SEALED,
    SERVER,
    UNREACHABLE,
    USAGE,
    CliError,
    PendingApproval,
)

USER_AGENT = f"strongroom-cli/{__version__}"
RETRY_STATUSES = {429, 500, 502, 503, 504}
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
RETRY_AFTER_CAP = 60.0


def _int_env(name: str, default: int) -> int:
    try:
        return max(0, int(os.environ.get(name, default)))
    except ValueError:
        return default


def _float_env(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _retry_after(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return min(RETRY_AFTER_CAP, max(0.0, float(header)))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        moment = parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return min(RETRY_AFTER_CAP, max(0.0, moment - time.time()))


def _raise_if_held(answer: Any) -> None:
    """A 202 ``{"status": "pending_approval", "changeRequest": …}``: the write was held by a change
    policy (nothing applied). Raised so every write command reports it the same way (exit 8)."""
    if not isinstance(answer, dict) or answer.get("status") != "pending_approval":
        return
    request = answer.get("changeRequest") if isinstance(answer.get("changeRequest"), dict) else {}
    needed = request.get("approvalsRequired")
    raise PendingApproval(
        str(request.get("slug") or request.get("id") or "?"),
        needed if isinstance(needed, int) else 1,
        str(request.get("url") or ""),
    )


class ApiError(CliError):
    def __init__(
        self, message: str, code: int, status: int, error_code: str = "", details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code)
        self.status = status
        self.error_code = error_code
        self.details = details or {}  # the native error object (code, message, fields, …)


def _error_from(status: int, body: bytes, request_id: str) -> ApiError:
    error_code, message = "", ""
    details: dict[str, Any] = {}
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        if isinstance(data.get("error"), dict):  # the native shape
            details = dict(data["error"])
            error_code = str(data["error"].get("code") or "")
            message = str(data["error"].get("message") or "")
            request_id = str(data.get("requestId") or request_id)
        else:  # Infisical's shape, should a compat URL be given
            message = str(data.get("message") or "")
            error_code = str(data.get("error") or "")
            request_id = str(data.get("reqId") or request_id)
    if status == 503 and error_code == "sealed":
        code, hint = SEALED, "the server is sealed (no usable root key); an operator must unseal it"
    elif status == 401:
        code, hint = AUTH, "check the token or credentials and --domain"
    elif status == 403:
        code, hint = FORBIDDEN, "this identity may not do that here"
    elif status == 404:
        code, hint = NOT_FOUND, "check --projectId, --env and --path"
    elif status == 429 or status >= 500:
        code, hint = SERVER, ""
    else:
        code, hint = USAGE, ""
    parts = [f"HTTP {status}"]
    if error_code:
        parts.append(error_code)
    detail = _one_line(message) if message else ""
    text = f"{detail} ({', '.join(parts)}" if detail else f"request failed ({', '.join(parts)}"
    if request_id:
        text += f", request {request_id}"
    text += ")"
    if hint:
        text += f"; {hint}"
    return ApiError(text, code, status, error_code, details)


class Client:
    def __init__(self, domain: str, token: str | None = None) -> None:
        self.domain = domain.rstrip("/")
        self.token = token
        self.retries = _int_env("STRONGROOM_RETRIES", 3)
        self.timeout = _float_env("STRONGROOM_TIMEOUT", 30.0)

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        url = self.domain + path
        if query:
            pairs = {k: v for k, v in query.items() if v is not None}
            url += "?" + urllib.parse.urlencode(pairs)
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        auth: bool = True,
        idempotent_post: bool = True,
    ) -> Any:
        """The decoded JSON answer (None for an empty one). Raises CliError with the exit code."""
        url = self.url(path, query)
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if method == "POST" and idempotent_post:
            headers["Idempotency-Key"] = os.urandom(16).hex()
        attempt = 0
        while True:
            request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (http/https only: config.normalize_domain)
            delay: float | None = None
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http/https from the user's --domain)
                    payload = response.read()
                    if not payload:
                        return None
                    try:
                        decoded = json.loads(payload.decode("utf-8"))
                    except (ValueError, UnicodeDecodeError):
                        raise CliError(
                            f"{self.domain} did not answer with JSON: is --domain a Strongroom server?", SERVER
                        ) from None
                    if response.status == 202:
                        _raise_if_held(decoded)
                    return decoded
            except urllib.error.HTTPError as exc:
                status = exc.code
                try:
                    payload = exc.read()
                except OSError:
                    payload = b""
                error = _error_from(status, payload, exc.headers.get("X-Request-Id", "") if exc.headers else "")
                if status not in RETRY_STATUSES or error.code == SEALED or attempt >= self.retries:
                    raise error from None
                delay = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            except (urllib.error.URLError, OSError, socket.timeout) as exc:
                if attempt >= self.retries:
                    reason = getattr(exc, "reason", exc)
                    raise CliError(f"cannot reach {self.domain}: {_one_line(str(reason))}", UNREACHABLE) from None
            attempt += 1
            if delay is None:
                import random  # only when retrying

                delay = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * (2 ** (attempt - 1))))  # noqa: S311 (jitter)
            time.sleep(delay)

    # Convenience wrappers
    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query or None)
