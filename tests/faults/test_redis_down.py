"""F3: the private Redis (cache, Celery broker, login rate-limit and lockout state) SIGKILLed under
mixed load against a real gunicorn, then started again empty, as a Redis without persistence
comes back.

Secret reads and writes keep being served from PostgreSQL (never a stale value after a write):
the API rate limiter counts in the process while its store is down (secrets_app/ratelimit.py).
Logins must be refused (429/503: the login
limiter and lockout state cannot be read). Every request that was served keeps its audit row
(audit is PostgreSQL only). A secret written during the outage (by a process that does not go
through the API limiter) loses its sync's Celery message; the sync row stays QUEUED and the beat
reconciler (every 30 s) sends it again once Redis is back. Likewise a data-key rotation during the
outage: the re-encryption it could not queue is queued by its beat reconciler (every 5 min).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from tests.faults.conftest import SOURCE, add_sync, seed, source_values
from tests.faults.services import Client, percentile, wait_until

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 8
SECRETS = "/api/v1/projects/acme/secrets/{key}/?environment=dev&path=/"
LOGINS = ("/api/v1/auth/universal-auth/login", "/compat/infisical/api/v1/auth/universal-auth/login")


def _no_internals(payload: Any) -> bool:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return not any(marker in text for marker in ("Traceback", "redis.exceptions", "ConnectionError", 'File "'))


def test_F3_redis_down_keeps_secrets_served_from_postgres_refuses_logins_and_delivers_syncs_after(
    make_stack: Any, private_redis: Any, ado: Any
) -> None:
    # Limits high enough for this load: the limiter still counts every request in Redis.
    stack = make_stack(STRONGROOM_API_READ_RATE_PER_MINUTE="100000", STRONGROOM_API_WRITE_RATE_PER_MINUTE="100000")
    info = seed(stack, {"A": "a0", "B": "b0", "C": "c0"})
    machine = json.loads(
        stack.manage(
            "identity_create", "--name", "ci", "--project", "acme", "--role", "viewer", "--universal-auth", "--json"
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    credentials = {"clientId": machine["clientId"], "clientSecret": machine["clientSecret"]}
    sync = add_sync(stack, ado)
    stack.start_worker()
    port = stack.start_web()
    wait_until(lambda: ado.values("app-secrets") == {"A": "a0", "B": "b0", "C": "c0"}, timeout=30, what="first sync")
    client, anonymous = Client(port, info["token"]), Client(port)

    baseline = [client.request("GET", SECRETS.format(key="B")) for _ in range(20)]
    assert {status for status, _, _ in baseline} == {200}
    assert all(anonymous.request("POST", path, credentials)[0] == 200 for path in LOGINS)

    # --- Redis down, mixed load -------------------------------------------------------------------
    private_redis.stop()
    reads: list[tuple[int, Any, float]] = []
    writes: list[tuple[int, str, int, Any]] = []  # (write status, value written, read-back status, read-back value)
    logins: list[tuple[int, Any]] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            reads.append(client.request("GET", SECRETS.format(key="B")))

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            value = f"during-outage-{n}"
            status, _, _ = client.request("PATCH", SECRETS.format(key="A"), {"value": value})
            back_status, back, _ = client.request("GET", SECRETS.format(key="A"))
            writes.append((status, value, back_status, back.get("value") if isinstance(back, dict) else back))

    def login() -> None:
        while not stop.is_set():
            for path in LOGINS:
                status, payload, _ = anonymous.request("POST", path, credentials)
                logins.append((status, payload))
            time.sleep(0.05)

    threads = [threading.Thread(target=target) for target in (reader, reader, writer, login)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    # A write that does not pass the API limiter (as the UI or a management command would): it
    # commits, and the sync's message it queues on commit cannot reach the broker.
    stack.django(
        SOURCE.replace("listing = ", "secret_bulk_upsert(scope=scope, environment='dev', path='/', "
                       "items=[SecretInput(key='C', value='c-during-outage')])\nlisting = ")
        .replace("from secrets_app.selectors.secrets import secret_list",
                 "from secrets_app.selectors.secrets import secret_list\n"
                 "from secrets_app.services.secrets import SecretInput, secret_bulk_upsert")
    )  # fmt: skip
    # The operator rotates a data key: the key rotates, the re-encryption cannot be queued.
    rotated = stack.manage("rotate_data_keys", "--project", "acme")
    assert "reconciler" in rotated.stdout and "Traceback" not in rotated.stderr
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - started)))
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    # Reads and writes: served from PostgreSQL, never stale.
    assert reads and writes and logins
    read_statuses = {status for status, _, _ in reads}
    write_statuses = {status for status, _, _, _ in writes}
    assert read_statuses == {200} and write_statuses == {200}, (read_statuses, write_statuses)
    assert all(payload["value"] == "b0" for status, payload, _ in reads if status == 200)
    assert all(back == value for status, value, back_status, back in writes if status == 200 and back_status == 200)
    refused = [payload for status, payload, _ in reads if status == 503]
    refused += [back for _, _, back_status, back in writes if back_status == 503]
    assert all(_no_internals(payload) for payload in refused)
    assert all(value not in json.dumps(back) for _, value, back_status, back in writes if back_status == 503)
    # Logins fail closed: the rate limiter and the lockout state cannot be checked.
    assert {status for status, _ in logins} <= {429, 503}, {status for status, _ in logins}
    assert all(_no_internals(payload) for _, payload in logins)
    baseline_p95 = percentile([seconds for _, _, seconds in baseline], 0.95)
    outage_p95 = percentile([seconds for _, _, seconds in reads], 0.95)
    assert outage_p95 < max(1.0, 4 * baseline_p95)

    # --- Redis back (empty: the sync's message sent during the outage is gone) --------------------
    private_redis.start()
    back_at = time.monotonic()
    assert all(anonymous.request("POST", path, credentials)[0] == 200 for path in LOGINS)
    # The beat reconciler (every 30 s in production) through the real worker, as beat sends it.
    schedule = stack.django(
        "from django.conf import settings\nresult = settings.CELERY_BEAT_SCHEDULE['syncs-reconcile']['schedule']"
    )
    assert schedule <= 30
    stack.django(
        "from syncs.tasks import syncs_reconcile_task\n"
        "from secrets_app.tasks import data_keys_reencrypt_reconcile_task\n"
        "syncs_reconcile_task.delay()\n"
        "data_keys_reencrypt_reconcile_task.delay()"
    )
    source = source_values(stack)
    assert source["C"] == "c-during-outage"
    wait_until(lambda: ado.values("app-secrets") == source, timeout=60, what="sync after the outage")
    delivered_in = time.monotonic() - back_at
    assert delivered_in < 60
    # The re-encryption the outage swallowed runs: no version is left on the old data key.
    wait_until(
        lambda: stack.django("from secrets_app.services.keys import data_key_reencrypt_pending\n"
                             "result = data_key_reencrypt_pending()") == [],
        timeout=30, interval=0.5, what="re-encryption queued by the reconciler",
    )  # fmt: skip
    assert source_values(stack) == source  # every secret still decrypts

    # Audit rows not lost: one per successful read and write, outage included.
    served_reads = len(baseline) + sum(1 for r in reads if r[0] == 200) + sum(1 for w in writes if w[2] == 200)
    (value_reads,) = stack.sql("SELECT count(*) FROM audit_auditevent WHERE action = 'secret.value_read'")[0]
    (updates,) = stack.sql(
        "SELECT count(*) FROM audit_auditevent WHERE action = 'secret.updated' AND resource_id = 'A'"
    )[0]
    assert value_reads == served_reads
    assert updates == sum(1 for w in writes if w[0] == 200)
    wait_until(
        lambda: stack.sql("SELECT status FROM syncs_secretsync WHERE id = %s", sync["sync_id"])[0][0] == "succeeded",
        timeout=20,
        what="sync succeeded",
    )
    print(
        f"F3: {len(reads)} reads {sorted(read_statuses)} (p95 {outage_p95 * 1000:.0f} ms, baseline "
        f"{baseline_p95 * 1000:.0f} ms), {len(writes)} writes {sorted(write_statuses)}, {len(logins)} logins refused {sorted({s for s, _ in logins})} during "
        f"{OUTAGE_SECONDS} s without Redis; sync delivered {delivered_in:.1f} s after Redis returned"
    )
