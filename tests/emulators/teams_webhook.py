"""A Microsoft Teams incoming/Workflows webhook emulator on 127.0.0.1 (plain HTTP, fresh port).

``POST /workflows/abc/triggers/manual/paths/invoke?sig=SECRET`` (``webhook_url``) records the
posted JSON (a message with an Adaptive Card attachment) in ``cards`` and answers 202, like a
Workflows trigger. ``fail_next(status, retry_after=None, count=1)`` injects failures. An unknown
path or ``sig`` answers 401.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.emulators.selfsigned import ServerThread


class TeamsWebhookEmulator:
    def __init__(self) -> None:
        self.sig = secrets.token_urlsafe(16)
        self.path = f"/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig={self.sig}"
        self.cards: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self._failures: list[tuple[int, float | None]] = []
        self._lock = threading.Lock()
        self._server = ServerThread(self._handler(), None)
        self.base_url = self._server.base_url
        self.webhook_url = self.base_url + self.path

    def fail_next(self, status: int = 500, *, retry_after: float | None = None, count: int = 1) -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> TeamsWebhookEmulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                with emulator._lock:
                    emulator.requests.append({"path": self.path, "headers": dict(self.headers.items()), "raw": raw})
                    failure = emulator._failures.pop(0) if emulator._failures else None
                if failure is not None:
                    status, retry_after = failure
                    return self._answer(
                        status, {"Retry-After": str(int(retry_after))} if retry_after is not None else None
                    )
                if self.path != emulator.path:
                    return self._answer(401)
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._answer(400)
                with emulator._lock:
                    emulator.cards.append(body)
                return self._answer(202)

        return Handler
