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
