"""How production serves HTTP (security-bar E2): slow clients, oversized and trickled bodies.

The server under test is gunicorn started with docker-compose.yml's web command (the one the
Dockerfile and `make run` share: config/gunicorn.py), on this run's PostgreSQL test database and
Redis, not Django's test client: what is tested here lives in the server process.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import slowloris
from tests.compat.conftest import BASE as COMPAT

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
BODY_TIMEOUT_SECONDS = 3  # the server's STRONGROOM_REQUEST_BODY_TIMEOUT here (30 by default)
HEADER_TIMEOUT_SECONDS = 5  # config/gunicorn.py's keepalive, the deadline for request headers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("the production server is tested on PostgreSQL")
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Server:
    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def production_server(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[Server]:
    """gunicorn as docker-compose.yml starts it (2 workers), on the test database."""
    from django.conf import settings

    port = _free_port()
    argv = compose_web_argv(port)
    with django_db_blocker.unblock():
        database_url = _database_url()
    folder = tmp_path_factory.mktemp("production-server")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "DJANGO_", "DATABASE_URL"))},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        "STRONGROOM_DATA_DIR": str(folder / "data"),
        "STRONGROOM_SECRET_KEY": settings.SECRET_KEY,  # token hashes are keyed with it
        "STRONGROOM_ROOT_KEY": settings.STRONGROOM_ROOT_KEY,
        "STRONGROOM_REQUEST_BODY_TIMEOUT": str(BODY_TIMEOUT_SECONDS),
        "STRONGROOM_LOG_LEVEL": "WARNING",
        # The probes read one secret many times a second: the per-principal API limit is not under test.
        "STRONGROOM_API_READ_RATE_PER_MINUTE": "0",
        # Likewise people's lockout and the login rate: the sign-in load test posts many wrong passwords.
        "STRONGROOM_LOGIN_LOCKOUT_THRESHOLD": "1000000",
        "STRONGROOM_LOGIN_LOCKOUT_IP_THRESHOLD": "1000000",
        "STRONGROOM_LOGIN_RATE_PER_MINUTE": "1000000",
        "WEB_CONCURRENCY": "2",
    }
    server = start_server(argv, env, folder, port)
    yield server
    _stop(server.process)


def compose_web_argv(port: int) -> list[str]:
    """docker-compose.yml's web command, bound to 127.0.0.1:*port*, run from this venv."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    argv = list(compose["services"]["web"]["command"])
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    argv[0] = str(VENV_BIN / argv[0])
    return argv


def start_server(argv: list[str], env: dict[str, Any], folder: Path, port: int) -> Server:
    """Start *argv* (a gunicorn command) logging to *folder*/gunicorn.log and wait until /healthz
    answers on *port* (45 s at most: the test fails with the server's output)."""
    log = folder / "gunicorn.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(port, process, log)
    deadline = time.monotonic() + 45
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return server
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(process)
                pytest.fail(f"gunicorn did not start:\n{server.output()[-4000:]}")
            time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def secret_reader(production_server: Server) -> tuple[str, str]:
    """(path, token): a secret alice can read through the API, with her personal token."""
    from secrets_app.services.personal_tokens import personal_token_create
    from secrets_app.services.secrets import SecretInput, secret_create
    from tests.conftest import build_cast

    cast = build_cast()
    secret_create(
        scope=cast.scope(cast.alice), environment="prod", path="/", item=SecretInput(key="DB_PASSWORD", value="s3cret")
    )
    token = personal_token_create(user=cast.alice, name="serving")[1]
    path = f"/api/v1/projects/{cast.project.slug}/secrets/DB_PASSWORD/?environment=prod&path=/"
    with urllib.request.urlopen(
        urllib.request.Request(
            f"http://127.0.0.1:{production_server.port}{path}", headers={"Authorization": f"Bearer {token}"}
        ),
        timeout=5,
    ) as response:
        assert response.status == 200
    return path, token


def _raw_exchange(port: int, request: bytes, *, wait: float) -> tuple[bytes, float]:
    """Send ``request``; read one answer (or until the server closes, or ``wait`` passes).
    Returns (answer, seconds until it was complete)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while we were still sending
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                head, sep, body = answer.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                if sep and length and len(body) >= int(length.group(1)):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return answer, time.monotonic() - started


# --- slow clients ---------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_E2_slow_body_does_not_starve_healthz(production_server: Server, secret_reader: tuple[str, str]) -> None:
    """50 slow clients (half trickling a body, half their headers, reconnecting when dropped) for
    10 s: /healthz and a secret read keep answering, every one of them, p99 under 1 s. Starved
    workers look like failures or multi-second waits (a slow client holds a sync worker for the 5 s
    header / 30 s body timeouts); the latency figures themselves belong to `make bench` (60 s, p99
    in the tens of ms), not to a timed test on a shared 2-core CI box."""
    path, token = secret_reader

    result = slowloris.measure(production_server.port, secret_path=path, token=token, clients=50, seconds=10)

    assert result["healthz"]["failures"] == 0, result
    assert result["secret_read"]["failures"] == 0, result
    assert result["healthz"]["p99_ms"] < 1000, result
    assert result["secret_read"]["p99_ms"] < 1000, result
    assert result["slow_connections_held_min"] >= 40, result  # the attack really held its sockets
    assert production_server.process.poll() is None
    assert "WORKER TIMEOUT" not in production_server.output()


@pytest.mark.slow
@pytest.mark.django_db  # the server runs on the test database: it must exist
def test_E2_oversized_body_refused_413_before_it_is_read(production_server: Server) -> None:
    from django.conf import settings

    over = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    head = (
        f"POST /api/v1/projects/acme/secrets/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {over}\r\n\r\n"
    ).encode()

    # Not one body byte is sent: the answer can only come from the declared length.
    answer, seconds = _raw_exchange(production_server.port, head, wait=5)

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b'"request_too_large"' in answer and b'"body"' in answer
    assert seconds < 2


@pytest.mark.slow
@pytest.mark.django_db  # the server runs on the test database: it must exist
def test_E2_oversized_compat_body_refused_in_infisical_shape(production_server: Server) -> None:
    head = (
        b"POST /compat/infisical/api/v4/secrets/X HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n"
    )

    answer, _ = _raw_exchange(production_server.port, head, wait=5)

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b'"statusCode": 413' in answer


@pytest.mark.slow
@pytest.mark.django_db  # the server runs on the test database: it must exist
def test_E2_chunked_body_over_the_cap_refused_413(production_server: Server) -> None:
    from django.conf import settings

    chunk = b"x" * 65536
    chunks = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // len(chunk) + 2
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(chunks)) + b"0\r\n\r\n"
    head = b"POST /api/v1/projects/acme/secrets/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"

    answer, _ = _raw_exchange(production_server.port, head + body, wait=10)

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]


@pytest.mark.slow
@pytest.mark.django_db  # the server runs on the test database: it must exist
def test_E2_trickled_body_is_cut_off_with_408(production_server: Server) -> None:
    head = (
        b"POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
    )
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", production_server.port), timeout=BODY_TIMEOUT_SECONDS + 5) as sock:
        sock.sendall(head)
        answer = b""
        sock.settimeout(0.5)
        while time.monotonic() - started < BODY_TIMEOUT_SECONDS + 5 and not answer:
            try:
                sock.sendall(b"x")
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
    seconds = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert BODY_TIMEOUT_SECONDS - 0.5 < seconds < BODY_TIMEOUT_SECONDS + 3


@pytest.mark.slow
@pytest.mark.django_db  # the server runs on the test database: it must exist
def test_E2_trickled_headers_are_dropped(production_server: Server) -> None:
    """Headers arriving one line every half second: the connection is dropped at the deadline."""
    started = time.monotonic()
    closed_after = None
    with socket.create_connection(("127.0.0.1", production_server.port), timeout=2) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        sock.settimeout(0.5)
        while time.monotonic() - started < HEADER_TIMEOUT_SECONDS + 5:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                if sock.recv(65536) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue  # nothing from the server: still open
            except OSError:
                closed_after = time.monotonic() - started
                break

    assert closed_after is not None, "the server kept reading headers past its deadline"
    assert HEADER_TIMEOUT_SECONDS - 1 < closed_after < HEADER_TIMEOUT_SECONDS + 2


@pytest.mark.slow
# transaction=True: the server commits its failed sign-ins' audit rows to the test database; the
# flush afterwards keeps them from reaching later tests of this process.
@pytest.mark.django_db(transaction=True)
def test_E2_password_hashing_does_not_stall_the_worker(production_server: Server) -> None:
    """Four sign-in attempts at a time (PBKDF2, ~0.2 s of CPU each) for 4 s: /healthz, served by the
    same two gevent workers, keeps answering (the hash runs off the event loop)."""
    import threading

    import requests

    base = f"http://127.0.0.1:{production_server.port}"
    email = f"nobody-{os.urandom(4).hex()}@example.com"  # no lockout left over from an earlier run
    stop = threading.Event()
    attempts: list[int] = []

    def sign_in_forever() -> None:
        session = requests.Session()
        page = session.get(f"{base}/login/", timeout=10).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        while not stop.is_set():
            answer = session.post(
                f"{base}/login/",
                data={"csrfmiddlewaretoken": token, "email": email, "password": "wrong-password-123"},
                timeout=30,
            )
            attempts.append(answer.status_code)

    threads = [threading.Thread(target=sign_in_forever) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    health = slowloris.Probe()
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        slowloris.probe(production_server.port, "/healthz", {}, health)
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    summary = health.summary()

    # 401: the form, shown again with its error.
    assert len(attempts) >= 8 and set(attempts) == {401}, (attempts[:20], production_server.output()[-3000:])
    assert summary["failures"] == 0, summary
    # A stalled event loop delays nearly every probe by a hash (~0.2 s); one or two late probes out
    # of ~60 are the other test worker taking the CPU on a 2-core machine, not a stall.
    slow = [ms for ms in health.latencies_ms if ms >= 200]
    assert len(slow) <= max(2, summary["count"] // 20), summary
    assert summary["max_ms"] < 1000, summary


# --- deeply nested JSON (Django's request handling, so the test client suffices) ------------------
NESTED_BODIES = {"arrays": "[" * 10_000 + "]" * 10_000, "objects": '{"a":' * 5_000 + "1" + "}" * 5_000}


@pytest.mark.parametrize("shape", NESTED_BODIES)
@pytest.mark.parametrize(
    "route", ["/api/v1/auth/universal-auth/login", f"{COMPAT}/api/v1/auth/universal-auth/login"], ids=["api", "compat"]
)
def test_E2_nested_json_rejected_400(client: Any, db: None, route: str, shape: str) -> None:
    """Unauthenticated login routes: the body is parsed before anyone is known."""
    response = client.post(route, NESTED_BODIES[shape], content_type="application/json")

    assert response.status_code == 400, response.content[:500]
    assert b"nest" in response.content and b"64" in response.content


def test_E2_nested_json_rejected_400_on_an_authenticated_write(api: Any, cast: Any) -> None:
    response = api(cast.alice).post(
        f"/api/v1/projects/{cast.project.slug}/secrets/", NESTED_BODIES["arrays"], content_type="application/json"
    )

    assert response.status_code == 400, response.content[:500]
    assert "64 levels" in response.json()["error"]["message"]


def test_E2_json_nested_to_the_limit_is_still_parsed(client: Any, db: None) -> None:
    """64 levels are allowed: the refusal above comes from the depth, not from any nesting."""
    body = '{"clientId": ' + "[" * 63 + "1" + "]" * 63 + "}"

    response = client.post("/api/v1/auth/universal-auth/login", body, content_type="application/json")

    assert response.status_code != 500
    assert b"64 levels" not in response.content


# --- sealed (C5): every page that needs keys answers 503 ----------------------------------------
@pytest.fixture
def sealed(settings: Any) -> Iterator[None]:
    """The server started with a well-formed root key that is not this database's."""
    import base64

    from secrets_app.keyring import keyring

    keyring.root()  # the database's key check is written with the real key first
    settings.STRONGROOM_ROOT_KEY = base64.b64encode(os.urandom(32)).decode()
    keyring.reset()
    yield
    keyring.reset()


@pytest.mark.parametrize(
    ("method", "page"),
    [
        ("post", "/account/totp/begin/"),
        ("post", "/account/totp/confirm/"),
        ("get", "/login/verify/"),
        ("get", "/org/acme-org/people/"),
        ("get", "/org/acme-org/identities/"),
        ("get", "/org/acme-org/connections/"),
        ("get", "/projects/acme/"),
    ],
)
def test_C5_pages_that_need_keys_answer_503_while_sealed(
    client: Any, cast: Any, sealed: None, method: str, page: str
) -> None:
    client.force_login(cast.alice)

    response = getattr(client, method)(page, HTTP_ACCEPT="text/html")

    assert response.status_code == 503, (page, response.status_code)
    assert b"sealed" in response.content
    assert b"does not match" in response.content  # the reason, for the operator


def test_C5_health_and_the_account_page_stay_up_while_sealed(client: Any, cast: Any, sealed: None) -> None:
    client.force_login(cast.alice)

    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "sealed"
    assert client.get("/account/").status_code == 200


# --- oversized items inside an acceptable body ---------------------------------------------------
@pytest.mark.parametrize(
    ("field", "url", "body"),
    [
        ("secrets", "bulk/", {"secrets": [{"key": f"K{i}", "value": "v"} for i in range(10_001)]}),
        ("key", "", {"key": "K" * 100_000, "value": "v"}),
        ("path", "", {"path": "/" + "a/" * 32_768, "key": "K", "value": "v"}),
    ],
    ids=["bulk_of_10001_keys", "key_of_100KB", "path_of_64KB"],
)
def test_E2_oversized_items_refused_400_naming_the_field(
    api: Any, cast: Any, field: str, url: str, body: dict[str, Any]
) -> None:
    started = time.monotonic()

    response = api(cast.alice).post(
        f"/api/v1/projects/{cast.project.slug}/secrets/{url}",
        {"environment": "dev", "path": "/", **body},
        format="json",
    )

    assert response.status_code == 400, response.content[:300]
    assert field in response.json()["error"]["fields"]
    assert len(response.content) < 1000  # the refusal does not echo what was sent
    assert time.monotonic() - started < 5
