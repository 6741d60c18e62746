"""Audit stream delivery for `make bench` (issue 11): the engine pushing to a local webhook receiver
that checks every batch's HMAC signature, as a SIEM's intake would.

- ``throughput``: ``BENCH_STREAM_EVENTS`` (default 5,000) audit events of the organization, sealed,
  then delivered by the engine (``stream_deliver``, in a process of its own, real PostgreSQL, real
  HTTP) until the receiver holds them all: events/s. Target ≥ 2,000/s.
- ``lag``: the read benchmark's load (single-secret reads through gunicorn, one audit event each)
  for ``BENCH_STREAM_SECONDS`` (default 30) while a Celery worker and beat run as in production
  (sealing every 5 s with the default 10 s sealing delay, dispatch every 2 s): per event, the time
  from its insert (``occurred_at``) to the receiver's acknowledgement; p50/p99/max. Target p50 ≤ 60 s.

The receiver answers at once: the figures are Strongroom's share (sealing delay, queueing, reading,
serialising, signing), not a SIEM's latency.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench import loadgen

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

STREAM_SCRIPT = """
import json, os, sys, time, django
django.setup()
from django.db import transaction
from django.db.models import Max
from audit.models import AuditEvent
from audit.sealing import audit_seal_pending, audit_sealed_through
from audit.services import SYSTEM_ACTOR, audit_record
from audit.streams.credentials import stream_seal_credentials
from audit.streams.delivery import DeliveryOutcome, stream_deliver
from audit.streams.models import AuditStream
from secrets_app.models import Organization

organization = Organization.objects.get(slug=os.environ["BENCH_STREAM_ORG"])
stream = AuditStream(
    organization=organization, name=os.environ["BENCH_STREAM_NAME"], kind="webhook",
    config={"url": os.environ["BENCH_STREAM_URL"]}, credential_names=["signing_secret"],
    cursor_event_id=AuditEvent.objects.aggregate(top=Max("id"))["top"] or 0,
)
stream.credentials_ciphertext = stream_seal_credentials(stream, {"signing_secret": os.environ["BENCH_STREAM_SECRET"]})
stream.save()
count = int(os.environ.get("BENCH_STREAM_EVENTS", "0"))
if not count:
    print(json.dumps({"stream_id": stream.pk}))
    sys.exit(0)
started = time.perf_counter()
with transaction.atomic():
    ids = [
        audit_record(action="secret.value_read", actor=SYSTEM_ACTOR, organization_id=organization.pk,
                     project_id=None, path="/bench", metadata={"keys": ["SECRET_007"], "n": n}).pk
        for n in range(count)
    ]
inserted = time.perf_counter() - started
started = time.perf_counter()
while audit_sealed_through() < ids[-1]:
    audit_seal_pending(delay_seconds=0)
sealed = time.perf_counter() - started
started = time.perf_counter()
batches = delivered = 0
while True:
    report = stream_deliver(stream_id=stream.pk, ignore_backoff=True)
    batches += report.batches
    delivered += report.delivered
    if report.outcome == DeliveryOutcome.FAILED:
        raise SystemExit(f"delivery failed: {report.error}")
    if report.outcome == DeliveryOutcome.CAUGHT_UP:
        break
seconds = time.perf_counter() - started
print(json.dumps({"stream_id": stream.pk, "first_id": ids[0], "last_id": ids[-1], "insert_seconds": inserted,
                  "seal_seconds": sealed, "deliver_seconds": seconds, "batches": batches, "delivered": delivered}))
"""


NEWEST_EVENT_SCRIPT = """
import json, django
django.setup()
from django.db.models import Max
from audit.models import AuditEvent
from secrets_app.models import Organization
organization = Organization.objects.get(slug="default")
print(json.dumps(AuditEvent.objects.filter(organization_id=organization.pk).aggregate(top=Max("id"))["top"] or 0))
"""


class _Receiver:
    """A webhook intake: verifies ``X-Strongroom-Signature`` (HMAC-SHA256 over "<timestamp>.<body>"),
    records (event id, occurred_at, time received) per event, answers 200."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.lock = threading.Lock()
        self.received: dict[str, list[tuple[int, str, float]]] = {}
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                timestamp = self.headers.get("X-Strongroom-Timestamp", "")
                digest = hmac.new(receiver.secret, timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
                ok = hmac.compare_digest(f"v1={digest}", self.headers.get("X-Strongroom-Signature", ""))
                status = 200 if ok else 401
                if ok:
                    rows = [(int(e["id"]), str(e["occurred_at"]), now) for e in json.loads(raw)]
                    with receiver.lock:
                        receiver.received.setdefault(self.path, []).extend(rows)
                else:
                    with receiver.lock:
                        receiver.bad_signatures += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def rows(self, path: str) -> list[tuple[int, str, float]]:
        with self.lock:
            return list(self.received.get("/" + path, []))

    def stop(self) -> None:
        self.server.shutdown()


def _stream(env: dict[str, str], receiver: _Receiver, name: str, events: int) -> dict[str, Any]:
    result = subprocess.run(
        [PYTHON, "-c", STREAM_SCRIPT],
        cwd=ROOT,
        env={
            **env,
            "BENCH_STREAM_ORG": "default",
            "BENCH_STREAM_NAME": name,
            "BENCH_STREAM_URL": receiver.url(name),
            "BENCH_STREAM_SECRET": receiver.secret.decode(),
            "BENCH_STREAM_EVENTS": str(events),
        },
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _throughput(env: dict[str, str], receiver: _Receiver) -> dict[str, Any]:
    count = int(os.environ.get("BENCH_STREAM_EVENTS", "5000"))
    figures = _stream(env, receiver, "throughput", count)
    ids = [row[0] for row in receiver.rows("throughput")]
    expected = set(range(figures["first_id"], figures["last_id"] + 1))
    return {
        "events": count,
        "events_per_s": round(count / figures["deliver_seconds"], 1),
        "deliver_seconds": round(figures["deliver_seconds"], 3),
        "batches": figures["batches"],
        "seal_seconds": round(figures["seal_seconds"], 3),
        "insert_seconds": round(figures["insert_seconds"], 3),
        "received_in_order": ids == sorted(ids),
        "missing": len(expected - set(ids)),
        "errors": int(bool(expected - set(ids))) + int(ids != sorted(ids)),
    }


def _lag(port: int, token: str, env: dict[str, str], receiver: _Receiver) -> dict[str, Any]:
    seconds = float(os.environ.get("BENCH_STREAM_SECONDS", "30"))
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "8"))
    _stream(env, receiver, "lag", 0)
    data_dir = Path(env["STRONGROOM_DATA_DIR"])
    processes = []
    logs = []
    # As in production (docker-compose.yml): a worker and a beat of their own, default intervals.
    for role, argv in (
        ("worker", ["worker", "--concurrency", os.environ.get("BENCH_STREAM_WORKERS", "2"), "-l", "warning",
                    "--without-gossip", "--without-mingle", "--without-heartbeat"]),
        ("beat", ["beat", "-l", "warning", "-s", str(data_dir / "bench-beat-schedule")]),
    ):  # fmt: skip
        log = open(data_dir / f"stream-{role}.log", "w")  # noqa: SIM115
        logs.append(log)
        processes.append(
            subprocess.Popen(
                [PYTHON, "-m", "celery", "-A", "config", *argv],
                cwd=ROOT,
                env={**env, "STRONGROOM_LOG_LEVEL": "WARNING"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        time.sleep(3)  # worker and beat start-up
        load = loadgen.run(
            "127.0.0.1",
            port,
            token,
            loadgen.Scenario(
                "get_one_secret", "GET", "/api/v1/projects/bench/secrets/SECRET_007/?environment=prod&path=/", None, 200
            ),
            seconds=seconds,
            processes=2 if concurrency >= 2 else 1,
            threads=max(1, concurrency // 2),
        )
        written = load["requests"]
        newest = json.loads(
            subprocess.run(
                [PYTHON, "-c", NEWEST_EVENT_SCRIPT], cwd=ROOT, env=env, check=True, capture_output=True, text=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        deadline = time.monotonic() + 180
        while max((row[0] for row in receiver.rows("lag")), default=0) < newest and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()
    caught_up = max((row[0] for row in receiver.rows("lag")), default=0) >= newest
    first_seen: dict[int, tuple[str, float]] = {}
    for event_id, occurred_at, received_at in receiver.rows("lag"):
        first_seen.setdefault(event_id, (occurred_at, received_at))
    lags = [received_at - datetime.fromisoformat(occurred).timestamp() for occurred, received_at in first_seen.values()]
    ids = [row[0] for row in receiver.rows("lag")]
    return {
        "seconds": seconds,
        "reads": written,
        "events_per_s_written": round(written / seconds, 1),
        "events_received": len(first_seen),
        "duplicates": len(ids) - len(first_seen),
        "received_in_order": list(dict.fromkeys(ids)) == sorted(first_seen),
        "lag_s": {
            "p50": round(statistics.median(lags), 2) if lags else None,
            "p99": round(_percentile(lags, 0.99), 2) if lags else None,
            "max": round(max(lags), 2) if lags else None,
        },
        "read_req_per_s": load["req_per_s"],
        "read_p99_ms": load["p99_ms"],
        "caught_up": caught_up,
        "errors": load["errors"] + (0 if caught_up else 1),
    }


def measure(port: int, token: str, env: dict[str, str]) -> dict[str, Any]:
    """Both figures; *env* is the server's environment (the bench database, Redis broker)."""
    receiver = _Receiver(secrets.token_urlsafe(24))
    env = {**env, "STRONGROOM_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1"}
    try:
        throughput = _throughput(env, receiver)
        lag = _lag(port, token, env, receiver) if os.environ.get("BENCH_STREAM_LAG", "1") != "0" else {"errors": 0}
    finally:
        receiver.stop()
    return {
        "throughput": throughput,
        "lag": lag,
        "bad_signatures": receiver.bad_signatures,
        "errors": throughput["errors"] + lag["errors"] + receiver.bad_signatures,
    }
