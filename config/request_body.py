"""Request bodies are read in full, under a size cap and a deadline, before Django sees the request.

This is what a buffering reverse proxy (nginx's ``proxy_request_buffering``) does, done inside the
gunicorn worker so that every way Strongroom is served gets it:

* A declared ``Content-Length`` above ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is answered 413 at once;
  not one byte of the body is read. A chunked body is read up to the cap and refused past it.
* The body must arrive within ``STRONGROOM_REQUEST_BODY_TIMEOUT`` seconds, or 408. Under gunicorn's
  gevent worker the deadline interrupts a read that is waiting; under other servers it is checked
  between reads.
* Django then gets the body from memory (or a temporary file past 1 MiB), so a slow client never
  holds a database connection, a session lock or a thread while it trickles.

Rejections are logged with the path and the sizes, never the payload.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import IO, Any

logger = logging.getLogger(__name__)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_CHUNK_BYTES = 64 * 1024
_SPOOL_IN_MEMORY_BYTES = 1024 * 1024


class _BodyTimeout(Exception):
    pass


class _BodyTooLarge(Exception):
    pass


class RequestBodyBuffer:
    """WSGI middleware: see the module docstring."""

    def __init__(self, app: WSGIApp, *, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        declared = _declared_length(environ)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if declared is None and not chunked:
            return _error(environ, start_response, 400, "invalid_request", "The Content-Length header is not a number.")
        if declared and declared > self.max_bytes:
            return self._too_large(environ, start_response, declared)
        if not declared and not chunked:
            return self.app(environ, start_response)
        try:
            body, size = self._read(environ["wsgi.input"], declared if not chunked else None)
        except _BodyTooLarge:
            return self._too_large(environ, start_response, None)
        except _BodyTimeout:
            logger.warning(
                "request body refused: not received within %ss (%s %s)",
                self.timeout_seconds,
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO", "")[:200],
            )
            return _error(
                environ,
                start_response,
                408,
                "request_timeout",
                f"The request body did not arrive within {self.timeout_seconds:g} seconds.",
            )
        environ["wsgi.input"] = body
        environ["CONTENT_LENGTH"] = str(size)
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def _read(self, stream: IO[bytes], length: int | None) -> tuple[IO[bytes], int]:
        """The whole body in a spooled file; raises _BodyTooLarge / _BodyTimeout."""
        body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
        size = 0
        deadline = time.monotonic() + self.timeout_seconds
        with _interrupting_deadline(self.timeout_seconds):
            while length is None or size < length:
                if time.monotonic() > deadline:
                    raise _BodyTimeout
                want = _CHUNK_BYTES if length is None else min(_CHUNK_BYTES, length - size)
                chunk = stream.read(want)
                if not chunk:
                    break  # the client closed early; Django sees the shorter body
                size += len(chunk)
                if size > self.max_bytes:
                    raise _BodyTooLarge
                body.write(chunk)
        body.seek(0)
        return body, size

    def _too_large(self, environ: Environ, start_response: StartResponse, declared: int | None) -> Iterable[bytes]:
        logger.warning(
            "request body refused: %s bytes over the %s-byte cap (%s %s)",
            declared if declared is not None else "chunked,",
            self.max_bytes,
            environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO", "")[:200],
        )
        return _error(
            environ,
            start_response,
            413,
            "request_too_large",
            f"The request body is larger than {self.max_bytes} bytes (STRONGROOM_MAX_REQUEST_BYTES).",
        )


def _declared_length(environ: Environ) -> int | None:
    """0 when absent, None when malformed."""
    raw = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        return 0
    if not raw.isdigit():
        return None
    return int(raw)


def _interrupting_deadline(seconds: float) -> AbstractContextManager[Any]:
    """A gevent.Timeout when gevent has patched sockets (gunicorn's gevent worker), else nothing."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("socket"):
        return nullcontext()
    import gevent

    return gevent.Timeout(seconds, _BodyTimeout)


def _error(environ: Environ, start_response: StartResponse, status: int, code: str, message: str) -> Iterable[bytes]:
    reasons = {400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large"}
    body: dict[str, Any]
    if environ.get("PATH_INFO", "").startswith("/compat/"):
        # Infisical's error shape, as the compat adapter answers (secrets_app/compat/http.py).
        body = {"reqId": "", "statusCode": status, "message": message, "error": reasons[status].replace(" ", "")}
    else:
        body = {"error": {"code": code, "message": message, "fields": {"body": [message]}}, "requestId": ""}
    payload = json.dumps(body).encode()
    start_response(
        f"{status} {reasons[status]}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("Cache-Control", "no-store"),
            # The unread rest of the body must not be taken for the next request.
            ("Connection", "close"),
        ],
    )
    return [payload]
