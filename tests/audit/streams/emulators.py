"""Local stand-ins for the SIEM intakes the stream kinds talk to, at the wire, on 127.0.0.1.

Each HTTP emulator checks what the real service checks before it accepts anything (the webhook
signature, the HEC token, the Datadog API key, the Entra ID bearer token), answers in the service's
own shapes, and is controllable for fault tests:

- ``events``: every event accepted, in arrival order (``batches``: per request; ``requests``:
  everything received, accepted or not);
- ``fail_next(n, status=503, retry_after=1)``: the next *n* authenticated intake requests get that
  answer (in the service's error shape) and are not accepted;
- ``reject_if(lambda event: ..., status=413)``: a request holding a matching event is refused whole;
- ``down()`` / ``up()``: stop listening (connections refused) and listen again on the same port.

:class:`RsyslogServer` runs the real rsyslogd (Debian's ``rsyslog`` + ``rsyslog-gnutls``) in the
foreground with a private configuration: RFC 5425 TLS input on a free port, every message written
with rsyslog's own parse of it (``msgid``, ``structured-data`` …) and the raw message, one JSON
object per line.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import hmac
import json
import os
import secrets as _secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.emulators.selfsigned import SelfSigned, self_signed

Response = tuple[int, dict[str, str], bytes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def issue_certificate(ca: SelfSigned, common_name: str) -> SelfSigned:
    """A client certificate for *common_name* signed by *ca* (a :func:`self_signed` one, which is a CA)."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return SelfSigned(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    status: int = 0
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Fault:
    status: int
    retry_after: float | None
    body: bytes | None


class IntakeError(Exception):
    """Raised by ``parse`` / ``authenticate``: answer with this response."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.response: Response = (status, {"Content-Type": "application/json", **(headers or {})}, _json(body))


def _json(body: Any) -> bytes:
    return b"" if body is None else json.dumps(body).encode()


class HttpIntakeEmulator:
    """Base of the HTTP emulators. Subclasses implement ``authenticate``, ``parse`` and the answers."""

    name = "intake"
    tls = False

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.batches: list[list[dict[str, Any]]] = []
        self.requests: list[Request] = []
        self._faults: list[_Fault] = []
        self._rejects: list[tuple[Callable[[dict[str, Any]], bool], int]] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0  # bound on the first up(), then kept across down()/up()
        self._certificate: SelfSigned | None = None
        self._dir = tempfile.mkdtemp(prefix=f"{self.name}-emulator-")
        self.ca_pem = ""
        if self.tls:
            self._certificate = self_signed()
            self.ca_pem = self._certificate.cert_pem

    # --- lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def up(self) -> None:
        """Listen (again) on the same port."""
        with self._lock:
            if self._server is not None:
                return
            server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
            self.port = int(server.server_address[1])
            server.daemon_threads = True
            server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]  # clients hanging up are part of the tests
            if self._certificate is not None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                cert_path, key_path = os.path.join(self._dir, "cert.pem"), os.path.join(self._dir, "key.pem")
                with open(cert_path, "w") as file:
                    file.write(self._certificate.cert_pem)
                with open(key_path, "w") as file:
                    file.write(self._certificate.key_pem)
                context.load_cert_chain(cert_path, key_path)
                server.socket = context.wrap_socket(server.socket, server_side=True)
            self._server = server
            self._thread = threading.Thread(target=server.serve_forever, daemon=True)
            self._thread.start()

    def down(self) -> None:
        """Stop listening: new connections are refused until ``up()``."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def stop(self) -> None:
        self.down()
        shutil.rmtree(self._dir, ignore_errors=True)

    # --- faults --------------------------------------------------------------------------------------
    def fail_next(self, n: int = 1, *, status: int = 503, retry_after: float | None = None, body: Any = None) -> None:
        with self._lock:
            self._faults.extend(_Fault(status, retry_after, None if body is None else _json(body)) for _ in range(n))

    def reject_if(self, predicate: Callable[[dict[str, Any]], bool], *, status: int = 413) -> None:
        with self._lock:
            self._rejects.append((predicate, status))

    # --- subclass hooks --------------------------------------------------------------------------------
    def route(self, request: Request) -> Response | None:
        """Answer requests that are not intake requests (token endpoints …); None = intake."""
        return None

    def authenticate(self, request: Request) -> None:
        """Raise :class:`IntakeError` when the request's credentials are wrong."""

    def parse(self, request: Request) -> list[dict[str, Any]]:
        """The events of an intake request, or :class:`IntakeError` (400 …)."""
        raise NotImplementedError

    def accepted(self, events: list[dict[str, Any]]) -> Response:
        return 200, {"Content-Type": "application/json"}, b"{}"

    def error_body(self, status: int) -> Any:
        return {"error": f"HTTP {status}"}

    # --- serving ------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        routed = self.route(request)
        if routed is not None:
            return routed
        try:
            self.authenticate(request)
            events = self.parse(request)
        except IntakeError as error:
            return error.response
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
            if fault is not None:
                headers = {"Content-Type": "application/json"}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(int(fault.retry_after))
                return (
                    fault.status,
                    headers,
                    fault.body if fault.body is not None else _json(self.error_body(fault.status)),
                )
            for predicate, status in self._rejects:
                if any(predicate(event) for event in events):
                    return status, {"Content-Type": "application/json"}, _json(self.error_body(status))
            self.events.extend(events)
            self.batches.append(events)
        return self.accepted(events)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {key.lower(): value for key, value in self.headers.items()},
                    raw,
                )
                emulator.requests.append(request)
                status, headers, body = emulator.handle(request)
                request.status = status
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _serve

        return Handler


# --- generic webhook ---------------------------------------------------------------------------------


class WebhookReceiver(HttpIntakeEmulator):
    """A receiver that verifies ``X-Strongroom-Signature`` the way docs/audit-streams.md tells
    receivers to (HMAC-SHA256 over ``"<timestamp>." + body``, timestamp within 5 minutes) and
    answers 401 otherwise; optionally requires an extra header."""

    name = "webhook"
    TOLERANCE_SECONDS = 300

    def __init__(self, secret: str, *, required_header: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.secret = secret
        self.required_header = required_header
        self.heads: list[dict[str, Any] | None] = []

    @property
    def url(self) -> str:
        return self.base_url + "/hooks/strongroom"

    def authenticate(self, request: Request) -> None:
        timestamp = request.headers.get("x-strongroom-timestamp", "")
        signature = request.headers.get("x-strongroom-signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > self.TOLERANCE_SECONDS:
            raise IntakeError(401, {"error": "stale or missing timestamp"})
        expected = (
            "v1=" + hmac.new(self.secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
        )
        if not hmac.compare_digest(expected, signature):
            raise IntakeError(401, {"error": "bad signature"})
        if self.required_header is not None:
            name, value = self.required_header
            if request.headers.get(name.lower()) != value:
                raise IntakeError(403, {"error": "missing header"})

    def parse(self, request: Request) -> list[dict[str, Any]]:
        if request.headers.get("content-type") != "application/json":
            raise IntakeError(415, {"error": "JSON only"})
        try:
            events = json.loads(request.body)
        except ValueError:
            raise IntakeError(400, {"error": "not JSON"}) from None
        if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
            raise IntakeError(400, {"error": "expected a JSON array of objects"})
        head = None
        if "x-strongroom-chain-head" in request.headers:
            head = {
                "sequence": int(request.headers["x-strongroom-chain-sequence"]),
                "block_hash": request.headers["x-strongroom-chain-head"],
            }
        with self._lock:
            self.heads.append(head)
        return events


# --- Splunk HEC -----------------------------------------------------------------------------------------


class SplunkHecEmulator(HttpIntakeEmulator):
    """``POST /services/collector/event``: ``Authorization: Splunk <token>``, a body of concatenated
    event envelopes, HEC's answers (``{"text": "Success", "code": 0}``; code 2/3 → 401, 4 → 403, 6
    invalid data format with ``invalid-event-number``, 7 incorrect index, 9 server busy → 503).
    ``events`` holds the envelopes' ``event`` objects, ``envelopes`` the whole envelopes."""

    name = "splunk"
    PATH = "/services/collector/event"

    def __init__(self, token: str, *, indexes: tuple[str, ...] = ("main", "strongroom")) -> None:
        super().__init__()
        self.token = token
        self.indexes = indexes
        self.envelopes: list[dict[str, Any]] = []

    def route(self, request: Request) -> Response | None:
        if request.method != "POST" or request.path.rstrip("/") != self.PATH:
            return (
                404,
                {"Content-Type": "application/json"},
                _json({"text": "The requested URL was not found on this server.", "code": 404}),
            )
        return None

    def authenticate(self, request: Request) -> None:
        authorization = request.headers.get("authorization", "")
        if not authorization:
            raise IntakeError(401, {"text": "Token is required", "code": 2})
        if not authorization.startswith("Splunk "):
            raise IntakeError(401, {"text": "Invalid authorization", "code": 3})
        if not hmac.compare_digest(authorization[len("Splunk ") :], self.token):
            raise IntakeError(403, {"text": "Invalid token", "code": 4})

    def parse(self, request: Request) -> list[dict[str, Any]]:
        text = request.body.decode("utf-8", errors="replace")
        decoder = json.JSONDecoder()
        envelopes: list[dict[str, Any]] = []
        position = 0
        if not text.strip():
            raise IntakeError(400, {"text": "No data", "code": 5})
        while position < len(text):
            while position < len(text) and text[position].isspace():
                position += 1
            if position >= len(text):
                break
            try:
                envelope, position = decoder.raw_decode(text, position)
            except ValueError:
                raise IntakeError(
                    400, {"text": "Invalid data format", "code": 6, "invalid-event-number": len(envelopes)}
                ) from None
            if not isinstance(envelope, dict) or "event" not in envelope:
                raise IntakeError(
                    400, {"text": "Event field is required", "code": 12, "invalid-event-number": len(envelopes)}
                )
            if envelope["event"] in ("", None, {}):
                raise IntakeError(
                    400, {"text": "Event field cannot be blank", "code": 13, "invalid-event-number": len(envelopes)}
                )
            if "index" in envelope and envelope["index"] not in self.indexes:
                raise IntakeError(400, {"text": "Incorrect index", "code": 7, "invalid-event-number": len(envelopes)})
            if "time" in envelope and not isinstance(envelope["time"], int | float):
                raise IntakeError(
                    400, {"text": "Invalid data format", "code": 6, "invalid-event-number": len(envelopes)}
                )
            envelopes.append(envelope)
        self._pending_envelopes = envelopes
        return [envelope["event"] for envelope in envelopes]

    def handle(self, request: Request) -> Response:
        before = len(self.events)
        response = super().handle(request)
        if len(self.events) > before:
            with self._lock:
                self.envelopes.extend(self._pending_envelopes)
        return response

    def accepted(self, events: list[dict[str, Any]]) -> Response:
        return 200, {"Content-Type": "application/json"}, _json({"text": "Success", "code": 0})

    def error_body(self, status: int) -> Any:
        if status in (503, 429):
            return {"text": "Server is busy", "code": 9}
        if status == 413:
            return {"text": "Content too large", "code": 413}
        return {"text": "Internal server error", "code": 8}


# --- Datadog ----------------------------------------------------------------------------------------------


class DatadogIntakeEmulator(HttpIntakeEmulator):
    """``POST /api/v2/logs``: ``DD-API-KEY``, a JSON array (at most 1,000 logs, 5 MB), answers 202 ``{}``;
    a wrong key gets 403 ``{"errors": ["Forbidden"]}``."""

    name = "datadog"
    PATH = "/api/v2/logs"
    MAX_LOGS = 1000
    MAX_BYTES = 5 * 1024 * 1024

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key

    @property
    def url(self) -> str:
        return self.base_url + self.PATH

    def route(self, request: Request) -> Response | None:
        if request.method != "POST" or request.path != self.PATH:
            return 404, {"Content-Type": "application/json"}, _json({"errors": ["Not found"]})
        return None

    def authenticate(self, request: Request) -> None:
        if not hmac.compare_digest(request.headers.get("dd-api-key", ""), self.api_key):
            raise IntakeError(403, {"errors": ["Forbidden"]})

    def parse(self, request: Request) -> list[dict[str, Any]]:
        if len(request.body) > self.MAX_BYTES:
            raise IntakeError(413, {"errors": ["Payload too large"]})
        try:
            logs = json.loads(request.body)
        except ValueError:
            raise IntakeError(400, {"errors": ["Malformed JSON"]}) from None
        if isinstance(logs, dict):
            logs = [logs]
        if not isinstance(logs, list) or not all(isinstance(log, dict) for log in logs):
            raise IntakeError(400, {"errors": ["Expected an array of log objects"]})
        if len(logs) > self.MAX_LOGS:
            raise IntakeError(413, {"errors": ["Too many logs in one request"]})
        return logs

    def accepted(self, events: list[dict[str, Any]]) -> Response:
        return 202, {"Content-Type": "application/json"}, b"{}"

    def error_body(self, status: int) -> Any:
        return {"errors": [{429: "Too Many Requests", 413: "Payload too large"}.get(status, "Service unavailable")]}


# --- Azure Monitor Logs Ingestion + Entra ID ----------------------------------------------------------------


class LogsIngestionEmulator(HttpIntakeEmulator):
    """The Logs Ingestion API and a Microsoft Entra ID authority on one HTTPS origin (self-signed;
    ``ca_pem`` is its certificate):

    - ``GET /<tenant>/v2.0/.well-known/openid-configuration`` (MSAL's authority discovery);
    - ``POST /<tenant>/oauth2/v2.0/token``: client credentials; a wrong secret gets 401
      ``invalid_client`` (AADSTS7000215); a scope other than ``https://monitor.azure.com/.default``
      gets 400 ``invalid_scope``; each token remembers its scope (``token_scopes``);
    - ``POST /dataCollectionRules/<dcr>/streams/<stream>?api-version=2023-01-01``: ``Bearer`` token
      from above, gzip'd JSON array, each log with ``TimeGenerated``; 204. Unknown rule or stream →
      404; missing/unknown token → 401.
    """

    name = "logs-ingestion"
    tls = True
    SCOPE = "https://monitor.azure.com/.default"

    def __init__(
        self,
        *,
        tenant_id: str = "tenant-1",
        client_id: str = "client-1",
        client_secret: str = "azure-client-secret-1",
        rule_id: str = "dcr-0123456789abcdef0123456789abcdef",
        stream_name: str = "Custom-StrongroomAudit_CL",
    ) -> None:
        super().__init__()
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.rule_id = rule_id
        self.stream_name = stream_name
        self.token_scopes: dict[str, str] = {}
        self.token_requests: list[dict[str, str]] = []

    @property
    def endpoint(self) -> str:
        return self.base_url

    authority = endpoint

    def route(self, request: Request) -> Response | None:
        parts = [part for part in request.path.split("/") if part]
        if parts[:1] == ["dataCollectionRules"]:
            return None
        base = f"{self.base_url}/{parts[0] if parts else ''}"
        if request.method == "GET" and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return (
                200,
                {"Content-Type": "application/json"},
                _json(
                    {
                        "issuer": f"{base}/v2.0",
                        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                        "token_endpoint": f"{base}/oauth2/v2.0/token",
                        "jwks_uri": f"{base}/discovery/v2.0/keys",
                        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                        "subject_types_supported": ["pairwise"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "tenant_region_scope": "EU",
                    }
                ),
            )
        if request.method == "POST" and parts[1:] == ["oauth2", "v2.0", "token"]:
            form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
            self.token_requests.append({key: value for key, value in form.items() if key != "client_secret"})
            if (
                parts[0] != self.tenant_id
                or form.get("grant_type") != "client_credentials"
                or form.get("client_id") != self.client_id
                or not hmac.compare_digest(form.get("client_secret", ""), self.client_secret)
            ):
                return (
                    401,
                    {"Content-Type": "application/json"},
                    _json(
                        {
                            "error": "invalid_client",
                            "error_description": "AADSTS7000215: Invalid client secret provided.",
                            "error_codes": [7000215],
                        }
                    ),
                )
            if form.get("scope") != self.SCOPE:
                return (
                    400,
                    {"Content-Type": "application/json"},
                    _json({"error": "invalid_scope", "error_codes": [70011]}),
                )
            token = _secrets.token_urlsafe(24)
            with self._lock:
                self.token_scopes[token] = form["scope"]
            return (
                200,
                {"Content-Type": "application/json"},
                _json({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}),
            )
        return 404, {"Content-Type": "application/json"}, _json({"error": "not_found"})

    def authenticate(self, request: Request) -> None:
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or authorization[7:] not in self.token_scopes:
            raise IntakeError(401, {"error": {"code": "InvalidToken", "message": "The access token is invalid."}})

    def parse(self, request: Request) -> list[dict[str, Any]]:
        parts = [part for part in request.path.split("/") if part]
        if request.method != "POST" or len(parts) != 4 or parts[2] != "streams":
            raise IntakeError(404, {"error": {"code": "NotFound", "message": "no such route"}})
        if request.query.get("api-version") != ["2023-01-01"]:
            raise IntakeError(400, {"error": {"code": "InvalidApiVersion", "message": "unsupported api-version"}})
        if parts[1] != self.rule_id or parts[3] != self.stream_name:
            raise IntakeError(
                404, {"error": {"code": "NotFound", "message": "Data collection rule or stream not found"}}
            )
        body = request.body
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        try:
            logs = json.loads(body)
        except ValueError:
            raise IntakeError(400, {"error": {"code": "InvalidPayload", "message": "not JSON"}}) from None
        if not isinstance(logs, list) or not all(isinstance(log, dict) and "TimeGenerated" in log for log in logs):
            raise IntakeError(400, {"error": {"code": "InvalidPayload", "message": "TimeGenerated is required"}})
        return logs

    def accepted(self, events: list[dict[str, Any]]) -> Response:
        return 204, {}, b""

    def error_body(self, status: int) -> Any:
        codes = {413: "ContentLengthLimitExceeded", 429: "TooManyRequests", 503: "ServiceUnavailable"}
        return {"error": {"code": codes.get(status, "InternalServerError"), "message": "injected"}}


# --- syslog: the real rsyslogd ---------------------------------------------------------------------------------


RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
_GTLS_MODULE = "lmnsd_gtls.so"


def rsyslog_missing() -> str | None:
    """Why rsyslog with TLS cannot run here, or None."""
    if not os.path.exists(RSYSLOGD):
        return "rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls)"
    for directory in ("/usr/lib/x86_64-linux-gnu/rsyslog", "/usr/lib/aarch64-linux-gnu/rsyslog", "/usr/lib/rsyslog"):
        if os.path.exists(os.path.join(directory, _GTLS_MODULE)):
            return None
    return "rsyslog's TLS driver is not installed (apt-get install rsyslog-gnutls)"


class RsyslogServer:
    """rsyslogd in the foreground with a private configuration (never /dev/log or system files):
    ``imtcp`` with the GnuTLS driver on a free port (``tls=False``: plain TCP), certificates made
    here; ``client_auth=True`` requires a client certificate signed by ``ca`` (``issue_certificate``).
    ``records()`` returns one dict per message received: rsyslog's parse (``msgid``, ``sd``,
    ``appname``, ``hostname``, ``pri``, ``timestamp``, ``msg``) and ``raw`` (the message as received)."""

    def __init__(self, *, tls: bool = True, client_auth: bool = False) -> None:
        self.tls = tls
        self.client_auth = client_auth
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="rsyslog-")
        self.ca = self_signed("strongroom-test-syslog")  # the server certificate, its own CA
        self.ca_pem = self.ca.cert_pem
        self.output = os.path.join(self.directory, "messages.jsonl")
        self.process: subprocess.Popen[bytes] | None = None
        self._write_config()

    def _write_config(self) -> None:
        cert, key = os.path.join(self.directory, "cert.pem"), os.path.join(self.directory, "key.pem")
        with open(cert, "w") as file:
            file.write(self.ca.cert_pem)
        with open(key, "w") as file:
            file.write(self.ca.key_pem)
        tls_globals = (
            f' DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="{cert}"'
            f' DefaultNetstreamDriverCertFile="{cert}" DefaultNetstreamDriverKeyFile="{key}"'
            if self.tls
            else ""
        )
        mode = "x509/certvalid" if self.client_auth else "anon"
        module = (
            f'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="{mode}")'
            if self.tls
            else 'module(load="imtcp")'
        )
        config = f"""
global(workDirectory="{self.directory}" maxMessageSize="256k"{tls_globals})
{module}
input(type="imtcp" port="{self.port}" address="127.0.0.1")
template(name="strongroom_test" type="list" option.jsonf="on") {{
  property(outname="pri" name="pri" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="appname" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="raw" name="rawmsg" format="jsonf")
}}
action(type="omfile" file="{self.output}" template="strongroom_test" flushOnTXEnd="on" asyncWriting="off")
"""
        self.config_file = os.path.join(self.directory, "rsyslog.conf")
        with open(self.config_file, "w") as file:
            file.write(config)

    # --- lifecycle ------------------------------------------------------------------------------------
    def up(self) -> None:
        if self.process is not None:
            return
        log = open(os.path.join(self.directory, "rsyslogd.log"), "ab")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", self.config_file, "-i", os.path.join(self.directory, "rsyslogd.pid")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rsyslogd exited with {self.process.returncode}: {self.log()[-2000:]}")
            if self._listening():
                return
            time.sleep(0.05)
        raise RuntimeError(f"rsyslogd did not listen on 127.0.0.1:{self.port}: {self.log()[-2000:]}")

    def _listening(self) -> bool:
        """True when the port is bound (read from /proc, not by connecting: a probe would be a session)."""
        wanted = f"0100007F:{self.port:04X}"
        try:
            with open("/proc/net/tcp") as table:
                return any(line.split()[1] == wanted and line.split()[3] == "0A" for line in table.readlines()[1:])
        except OSError:
            return False

    def down(self) -> None:
        """Stop rsyslogd (connections refused until ``up()``); what it wrote stays in ``records()``."""
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        self.down()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RsyslogServer:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what arrived -----------------------------------------------------------------------------------
    def log(self) -> str:
        try:
            with open(os.path.join(self.directory, "rsyslogd.log"), errors="replace") as file:
                return file.read()
        except OSError:
            return ""

    def records(self) -> list[dict[str, Any]]:
        try:
            with open(self.output, encoding="utf-8") as file:
                # Only whole lines: rsyslogd may be half-way through writing the last one.
                return [json.loads(line) for line in file if line.endswith("\n") and line.strip()]
        except FileNotFoundError:
            return []

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The records once at least *count* arrived (then a short settle, to catch extras)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.records()) >= count:
                time.sleep(0.3)
                return self.records()
            time.sleep(0.05)
        return self.records()
