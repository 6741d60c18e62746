"""A Slack Web API + incoming-webhook emulator on 127.0.0.1 (plain HTTP, fresh port per instance),
driven by the real ``slack_sdk``.

- ``POST /api/auth.test``, ``/api/chat.postMessage``, ``/api/chat.update``: bot token in
  ``Authorization: Bearer xoxb-…`` (JSON or form bodies). An unknown token answers
  ``{"ok": false, "error": "invalid_auth"}`` (HTTP 200, as Slack does); a channel not in
  ``channels`` answers ``channel_not_found``. Messages are kept per channel by ``ts`` so
  ``chat.update`` replaces them (``messages(channel)`` shows the current state).
- ``POST /services/T000/B000/XXXX`` (``webhook_url``): an incoming webhook; answers ``ok``.
- Failure injection: ``fail_next(status, retry_after=None, count=1, error=None)`` answers the next
  *count* requests with that HTTP status (429 with ``Retry-After``) or, with *error*, an
  ``ok: false`` body.

Everything received is recorded in ``requests`` (path, headers, parsed body).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.emulators.selfsigned import ServerThread

WEBHOOK_PATH = "/services/T000/B000/XXXX"


class SlackEmulator:
    def __init__(
        self, *, tokens: tuple[str, ...] = ("xoxb-good-token",), channels: tuple[str, ...] = ("C0123456789",)
    ) -> None:
        self.tokens = set(tokens)
        self.channels = set(channels)
        self.requests: list[dict[str, Any]] = []
        self.webhook_posts: list[dict[str, Any]] = []
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self._failures: list[tuple[int, float | None, str | None]] = []
        self._lock = threading.Lock()
        self._counter = 0
        self._server = ServerThread(self._handler(), None)
        self.base_url = self._server.base_url
        self.api_url = self.base_url + "/api/"
        self.webhook_url = self.base_url + WEBHOOK_PATH

    # --- test controls ----------------------------------------------------------------------
    def fail_next(
        self, status: int = 500, *, retry_after: float | None = None, count: int = 1, error: str | None = None
    ) -> None:
        with self._lock:
            self._failures.extend([(status, retry_after, error)] * count)

    def messages(self, channel: str = "C0123456789") -> list[dict[str, Any]]:
        with self._lock:
            return [dict(message) for _, message in sorted(self._messages.get(channel, {}).items())]

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [request for request in self.requests if request["path"] == f"/api/{method}"]

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> SlackEmulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- the server -----------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header(
                    "Content-Type", "text/plain" if isinstance(body, str) else "application/json; charset=utf-8"
                )
                self.send_header("Content-Length", str(len(raw)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                content_type = self.headers.get("Content-Type", "")
                if "json" in content_type:
                    body = json.loads(raw or "{}")
                else:
                    body = {key: values[0] for key, values in parse_qs(raw).items()}
                record = {"path": self.path, "headers": dict(self.headers.items()), "body": body, "raw": raw}
                with emulator._lock:
                    emulator.requests.append(record)
                    failure = emulator._failures.pop(0) if emulator._failures else None
                if failure is not None:
                    status, retry_after, error = failure
                    if error is not None:
                        return self._answer(200, {"ok": False, "error": error})
                    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
                    if self.path.startswith("/services/"):
                        return self._answer(status, "rate_limited" if status == 429 else "internal_error", headers)
                    return self._answer(
                        status, {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}, headers
                    )
                if self.path == WEBHOOK_PATH:
                    with emulator._lock:
                        emulator.webhook_posts.append(body)
                    return self._answer(200, "ok")
                if self.path.startswith("/services/"):
                    return self._answer(404, "no_service")
                token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip() or body.get("token", "")
                if token not in emulator.tokens:
                    return self._answer(200, {"ok": False, "error": "invalid_auth" if token else "not_authed"})
                method = self.path.removeprefix("/api/")
                if method == "auth.test":
                    return self._answer(
                        200,
                        {
                            "ok": True,
                            "team": "Acme",
                            "user": "strongroom",
                            "team_id": "T000",
                            "user_id": "U000",
                            "bot_id": "B000",
                        },
                    )
                channel = str(body.get("channel", ""))
                if method in ("chat.postMessage", "chat.update") and channel not in emulator.channels:
                    return self._answer(200, {"ok": False, "error": "channel_not_found"})
                if method == "chat.postMessage":
                    with emulator._lock:
                        emulator._counter += 1
                        ts = f"{int(time.time())}.{emulator._counter:06d}"
                        message = {
                            "ts": ts,
                            "text": body.get("text", ""),
                            "blocks": body.get("blocks"),
                            "updated": False,
                        }
                        emulator._messages.setdefault(channel, {})[ts] = message
                    return self._answer(200, {"ok": True, "channel": channel, "ts": ts, "message": message})
                if method == "chat.update":
                    ts = str(body.get("ts", ""))
                    with emulator._lock:
                        if ts not in emulator._messages.get(channel, {}):
                            return self._answer(200, {"ok": False, "error": "message_not_found"})
                        message = {
                            "ts": ts,
                            "text": body.get("text", ""),
                            "blocks": body.get("blocks"),
                            "updated": True,
                        }
                        emulator._messages[channel][ts] = message
                    return self._answer(200, {"ok": True, "channel": channel, "ts": ts, "text": message["text"]})
                return self._answer(200, {"ok": False, "error": "unknown_method"})

        return Handler
