"""A kube-apiserver TokenReview emulator on 127.0.0.1 over HTTPS (self-signed certificate made at
start: its certificate is the cluster CA) — wire-protocols.md §4.

``POST /apis/authentication.k8s.io/v1/tokenreviews``:

* the bearer must be a known reviewer token, or a service-account token added with
  ``auth_delegator=True``; an unknown bearer gets the apiserver's 401 ``Status``, a known service
  account without the RBAC its 403 ``Status``; ``refuse_reviewer = 401|403`` forces that answer;
* ``spec.token`` unknown → 201 with ``status.error`` (``authenticated`` absent, ``user`` ``{}``);
* ``spec.audiences`` (default: the apiserver's own audience) must intersect the token's audiences,
  else ``status.error`` in the apiserver's wording; ``status.audiences`` is the intersection
  (empty when ``audience_aware`` is False, like an audience-unaware server);
* no ``apiVersion``/``kind``/``Content-Type`` is required (the Python client sends none).

Every request is recorded (path, Authorization header, parsed body). ``delay`` seconds are slept
before answering (timeouts).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.emulators.selfsigned import ServerThread, self_signed

TOKEN_REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
DEFAULT_AUDIENCE = "https://kubernetes.default.svc.cluster.local"


@dataclass
class ServiceAccountToken:
    namespace: str
    name: str
    audiences: list[str] = field(default_factory=lambda: [DEFAULT_AUDIENCE])
    auth_delegator: bool = False
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))


def _fake_jwt() -> str:
    return "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ." + secrets.token_urlsafe(48) + "." + secrets.token_urlsafe(64)


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class KubernetesEmulator:
    def __init__(self) -> None:
        self.tls = self_signed("kube-apiserver")
        self.reviewer_tokens: set[str] = set()
        self.sa_tokens: dict[str, ServiceAccountToken] = {}
        self.refuse_reviewer: int | None = None
        self.audience_aware = True
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ServerThread(self._handler(), self.tls)
        self.base_url = self._server.base_url

    @property
    def ca_pem(self) -> str:
        return self.tls.cert_pem

    def add_reviewer(self) -> str:
        token = _fake_jwt()
        self.reviewer_tokens.add(token)
        return token

    def add_service_account_token(
        self, namespace: str, name: str, *, audiences: list[str] | None = None, auth_delegator: bool = False
    ) -> str:
        token = _fake_jwt()
        self.sa_tokens[token] = ServiceAccountToken(
            namespace, name, list(audiences or [DEFAULT_AUDIENCE]), auth_delegator=auth_delegator
        )
        return token

    def review(self, bearer: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.refuse_reviewer == 401:
            return 401, _status(401, "Unauthorized", "Unauthorized")
        reviewer_sa = self.sa_tokens.get(bearer)
        if bearer not in self.reviewer_tokens and reviewer_sa is None:
            return 401, _status(401, "Unauthorized", "Unauthorized")
        if self.refuse_reviewer == 403 or (bearer not in self.reviewer_tokens and not reviewer_sa.auth_delegator):
            who = f"system:serviceaccount:{reviewer_sa.namespace}:{reviewer_sa.name}" if reviewer_sa else "reviewer"
            forbidden = _status(
                403,
                "Forbidden",
                f'tokenreviews.authentication.k8s.io is forbidden: User "{who}" cannot create resource '
                '"tokenreviews" in API group "authentication.k8s.io" at the cluster scope',
            )
            forbidden["details"] = {"group": "authentication.k8s.io", "kind": "tokenreviews"}
            return 403, forbidden
        spec = body.get("spec") or {}
        answer: dict[str, Any] = {
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
        }
        account = self.sa_tokens.get(str(spec.get("token") or ""))
        if account is None:
            answer["status"] = {
                "user": {},
                "error": "[invalid bearer token, square/go-jose: error in cryptographic primitive, token lookup failed]",
            }
            return 201, answer
        wanted = list(spec.get("audiences") or [DEFAULT_AUDIENCE])
        common = [audience for audience in wanted if audience in account.audiences]
        if not common:
            answer["status"] = {
                "user": {},
                "error": f"[invalid bearer token, token audiences {json.dumps(account.audiences)} is invalid "
                f"for the target audiences {json.dumps(wanted)}, unknown]",
            }
            return 201, answer
        answer["status"] = {
            "authenticated": True,
            "user": {
                "username": f"system:serviceaccount:{account.namespace}:{account.name}",
                "uid": account.uid,
                "groups": [
                    "system:serviceaccounts",
                    f"system:serviceaccounts:{account.namespace}",
                    "system:authenticated",
                ],
            },
            "audiences": common if self.audience_aware else [],
        }
        return 201, answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                authorization = self.headers.get("Authorization", "")
                with emulator._lock:
                    emulator.requests.append({"path": self.path, "authorization": authorization, "body": body})
                if emulator.delay:
                    time.sleep(emulator.delay)
                if self.path.split("?", 1)[0] != TOKEN_REVIEW_PATH:
                    status, answer = 404, _status(404, "NotFound", "the server could not find the requested resource")
                else:
                    bearer = authorization[7:] if authorization.startswith("Bearer ") else ""
                    status, answer = emulator.review(bearer, body if isinstance(body, dict) else {})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def stop(self) -> None:
        self._server.stop()
