"""C. Encryption at rest: nonces never repeat (C3) and no canary value or credential reaches Redis,
the cache or the Celery broker queues (C1, the part tests/secrets_app/test_canary.py leaves out)."""

from __future__ import annotations

import base64
import json
import os
import secrets
from typing import Any
from urllib.parse import quote

import pytest
from rest_framework.test import APIClient


def test_C3_gives_100000_encryptions_of_one_value_100000_distinct_96_bit_nonces() -> None:
    from secrets_app.crypto import envelope

    key, aad, plaintext = os.urandom(32), b"project|env|secret|1|value", b"the same plaintext every time"
    sealed = [envelope.encrypt(key, 1, plaintext, aad) for _ in range(100_000)]

    header = 5  # format version and key id
    nonces = {item[header : header + envelope.NONCE_BYTES] for item in sealed}
    assert envelope.NONCE_BYTES * 8 == 96
    assert len(nonces) == len(sealed) == len(set(sealed)) == 100_000
    assert all(envelope.decrypt(key, item, aad) == plaintext for item in sealed[::10_000])


def _forms(text: str) -> set[bytes]:
    raw = text.encode()
    return {raw, raw.hex().encode(), quote(text, safe="").encode(), json.dumps(text)[1:-1].encode()} | {
        base64.b64encode(b"\0" * pad + raw)[4 if pad else 0 : -4] for pad in range(3)
    }


def _redis_contents() -> bytes:
    """Every key and value in the Redis database the cache and the broker use, whatever its type."""
    from django.core.cache import cache

    client = cache._cache.get_client(write=False)  # type: ignore[attr-defined]
    chunks: list[bytes] = []
    for key in client.scan_iter("*"):
        kind = client.type(key)
        chunks.append(key)
        if kind == b"string":
            chunks.append(client.get(key) or b"")
        elif kind == b"hash":
            chunks += [part for pair in client.hgetall(key).items() for part in pair]
        elif kind == b"list":
            chunks += client.lrange(key, 0, -1)
        elif kind == b"set":
            chunks += list(client.smembers(key))
        elif kind == b"zset":
            chunks += client.zrange(key, 0, -1)
    return b"\n".join(chunks)


@pytest.mark.django_db(transaction=True)
def test_C1_leaves_no_value_token_or_client_secret_in_redis(cast: Any, api: Any, token_for: Any) -> None:
    from django.conf import settings

    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        pytest.skip("needs Redis (REDIS_URL) as the cache and broker")
    from tests.identities.universal_support import make_org_admin

    canary = f"CANARY_{secrets.token_hex(16)}"
    make_org_admin(cast)
    alice = api(cast.alice)
    personal = alice._credentials["HTTP_AUTHORIZATION"].split()[1]
    p = "/api/v1/projects/acme/"
    for index, value in enumerate(
        (canary, f"\U0001f511 {canary}\r\n", f"-----BEGIN KEY-----\n{canary}\n-----END KEY-----")
    ):
        alice.post(
            p + "secrets/", {"environment": "dev", "path": "/", "key": f"K{index}", "value": value}, format="json"
        )
        alice.get(p + f"secrets/K{index}/", {"environment": "dev"})
    alice.get(p + "secrets/", {"environment": "dev", "include_values": "true"})
    identity = alice.post("/api/v1/organizations/acme-org/identities/", {"name": "redis-bot"}, format="json").json()[
        "id"
    ]
    alice.post(p + "identities/", {"identityId": identity, "role": "viewer"}, format="json")
    base = f"/api/v1/identities/{identity}/universal-auth/"
    alice.put(base, {}, format="json")
    created = alice.post(base + "client-secrets/", {}, format="json").json()
    body = {"clientId": created["clientId"], "clientSecret": created["clientSecret"]}
    for route in ("/api/v1/auth/universal-auth/login", "/compat/infisical/api/v1/auth/universal-auth/login"):
        token = APIClient().post(route, body, format="json").json()["accessToken"]
        listed = APIClient().get(
            "/compat/infisical/api/v3/secrets/raw",
            {"workspaceId": str(cast.project.public_id), "environment": "dev", "secretPath": "/"},
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert listed.status_code == 200, listed.content
        APIClient().post("/api/v1/auth/token/renew", {"accessToken": token}, format="json")
    APIClient().post("/api/v1/auth/universal-auth/login", {**body, "clientSecret": canary}, format="json")

    stored = _redis_contents()

    assert stored, "nothing in Redis: the sweep would prove nothing"
    for needle in (canary, personal, created["clientSecret"], token, token.split(".")[-1]):
        assert not any(form in stored for form in _forms(needle)), "a value or credential reached Redis"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_C4_a_reencryption_killed_half_way_resumes_with_nothing_lost_while_writes_go_on(cast: Any) -> None:
    import signal
    import struct
    import subprocess
    import sys

    from django.db import connection

    from secrets_app.crypto import envelope
    from secrets_app.models import DataKey, SecretVersion
    from secrets_app.selectors.secrets import secret_list
    from secrets_app.services.keys import data_key_reencrypt, data_key_reencrypt_pending
    from secrets_app.services.secrets import SecretInput, secret_bulk_upsert, secret_update
    from tests.support.celery_worker import ROOT, require_postgres, wait_until, worker_env

    require_postgres("the re-encryption runs in another process on the test database")
    alice = cast.scope(cast.alice)
    count = 2000
    expected = {f"K{i}": f"value-{i}\r\n\U0001f511" for i in range(count)}
    items = [SecretInput(key=k, value=v) for k, v in expected.items()]
    for start in range(0, count, 1000):  # a bulk write takes at most 1,000 secrets
        secret_bulk_upsert(scope=alice, environment="dev", path="/", items=items[start : start + 1000])
    old_key = DataKey.objects.get(project=cast.project, version=1)
    versions_before = SecretVersion.objects.filter(secret__project=cast.project).count()

    def key_ids() -> list[int]:
        rows = SecretVersion.objects.filter(secret__project=cast.project).values_list("value_ciphertext", flat=True)
        return [envelope.key_id_of(bytes(row)) for row in rows]

    def under_key(key_id: int) -> int:
        header = struct.pack(">BI", 1, key_id)  # format version 1, key id: the first 5 bytes
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM {SecretVersion._meta.db_table} WHERE substring(value_ciphertext from 1 for 5) = %s",  # noqa: S608 - the table name is ours
                [header],
            )
            return int(cursor.fetchone()[0])

    process = subprocess.Popen(
        [sys.executable, "manage.py", "rotate_data_keys", "--project", "acme", "--now"],
        cwd=ROOT, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        new_key = wait_until(
            lambda: DataKey.objects.filter(project=cast.project, version=2).first(), timeout=60, interval=0.05
        )
        # Kill as soon as the first batch has committed (a cheap count on the ciphertext header).
        wait_until(lambda: under_key(new_key.pk) >= 505, timeout=120, interval=0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    at_kill = key_ids()
    assert 0 < at_kill.count(old_key.pk) < count, "the kill did not land half-way: nothing to resume"
    # Half-way through, every old row still reads, and writes use the new key at once.
    listed = secret_list(alice, environment="dev", path="/", include_values=True).secrets
    assert {view.key: view.value for view in listed} == expected
    for index in range(5):
        secret_update(
            scope=alice,
            environment="dev",
            path="/",
            key=f"K{index}",
            item=SecretInput(key=f"K{index}", value=f"new-{index}"),
        )
        expected[f"K{index}"] = f"new-{index}"
    written = SecretVersion.objects.filter(secret__project=cast.project, version=2).values_list(
        "value_ciphertext", flat=True
    )
    assert len(written) == 5 and {envelope.key_id_of(bytes(row)) for row in written} == {new_key.pk}

    assert cast.project.pk in data_key_reencrypt_pending()  # what the beat reconciler would queue
    while data_key_reencrypt(project_id=cast.project.pk):
        pass
    assert data_key_reencrypt(project_id=cast.project.pk) == 0  # idempotent: nothing left to move

    assert set(key_ids()) == {new_key.pk}
    assert SecretVersion.objects.filter(secret__project=cast.project).count() == versions_before + 5
    pairs = list(SecretVersion.objects.filter(secret__project=cast.project).values_list("secret_id", "version"))
    assert len(pairs) == len(set(pairs))
    listed = secret_list(alice, environment="dev", path="/", include_values=True).secrets
    assert {view.key: view.value for view in listed} == expected
