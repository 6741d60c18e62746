"""Both official SDKs, unmodified, against a live server: an admin identity defines a PostgreSQL dynamic
secret with Infisical's statements, a member identity leases it, logs in to PostgreSQL as the leased
user, renews (from the old expiry; over maxTTL refused in Infisical's words) and revokes it with a
JSON-bodied DELETE — after which the same login fails."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.compat.conftest import make_machine
from tests.compat.live import live  # noqa: F401 (fixture)
from tests.compat.test_dynamic_secrets import infisical_inputs
from tests.compat.test_node_sdk import NODE_DIR, node_sdk  # noqa: F401 (fixture)
from tests.dynamic.conftest import DbTarget, dyn_settings, pg_login, pg_role_exists  # noqa: F401
from tests.support.dynamic_targets import private_pg_target

infisical_sdk = pytest.importorskip("infisical_sdk")

pytestmark = pytest.mark.slow
OVER_MAX = "The requested renewal would exceed the maximum allowed lease duration"


@pytest.fixture(scope="module")
def pg_target() -> Iterator[DbTarget]:
    with private_pg_target() as target:
        yield target


def _moment(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def dyn_live(live: Any, pg_target: DbTarget, dyn_settings: Any) -> Iterator[Any]:  # noqa: F811
    from dynamic.models import TargetAllowlist

    site_url, cast, member = live
    TargetAllowlist.objects.update_or_create(organization=cast.organization, defaults={"entries": ["127.0.0.1/32"]})
    admin = make_machine(cast.project, "ds-admin", "admin")
    yield site_url, cast, admin, member


def _login_fails(target: DbTarget, username: str, password: str) -> None:
    with pytest.raises(psycopg.OperationalError):
        pg_login(target, username, password).close()


def test_python_sdk_defines_leases_renews_and_revokes(dyn_live: Any, pg_target: DbTarget) -> None:  # noqa: F811
    site_url, _cast, admin, member = dyn_live
    place = {"project_slug": "acme", "environment_slug": "dev", "path": "/"}
    with infisical_sdk.InfisicalSDKClient(host=site_url, cache_ttl=None) as owner:
        owner.auth.universal_auth.login(client_id=admin.client_id, client_secret=admin.client_secret)
        defined = owner.dynamic_secrets.create(
            name="pg-py",
            provider_type=infisical_sdk.DynamicSecretProviders.SQL_DATABASE,
            inputs=infisical_inputs(pg_target),
            default_ttl="1h",
            max_ttl="2h",
            **place,
        )
        assert (defined.name, defined.type, defined.defaultTTL, defined.maxTTL) == ("pg-py", "sql-database", "1h", "2h")
        assert owner.dynamic_secrets.get_by_name(name="pg-py", **place).id == defined.id
        updated = owner.dynamic_secrets.update(name="pg-py", default_ttl="30m", **place)
        assert updated.defaultTTL == "30m" and updated.version == defined.version + 1

    with infisical_sdk.InfisicalSDKClient(host=site_url, cache_ttl=None) as client:
        client.auth.universal_auth.login(client_id=member.client_id, client_secret=member.client_secret)
        created = client.dynamic_secrets.leases.create(dynamic_secret_name="pg-py", ttl="1h", **place)
        username, password = created.data["DB_USERNAME"], created.data["DB_PASSWORD"]
        assert created.lease.externalEntityId == username and created.dynamicSecret.id == defined.id
        with pg_login(pg_target, username, password) as conn:
            assert conn.execute("SELECT label FROM items").fetchone() == ("first",)

        got = client.dynamic_secrets.leases.get(lease_id=created.lease.id, **place)
        assert got.id == created.lease.id and got.dynamicSecret is not None and got.dynamicSecret.name == "pg-py"
        renewed = client.dynamic_secrets.leases.renew(lease_id=created.lease.id, ttl="30m", **place)
        assert _moment(renewed.expireAt) - _moment(created.lease.expireAt) == datetime.timedelta(minutes=30)
        with pytest.raises(infisical_sdk.InfisicalError) as over:
            client.dynamic_secrets.leases.renew(lease_id=created.lease.id, ttl="1h", **place)
        assert OVER_MAX in str(over.value)

        revoked = client.dynamic_secrets.leases.revoke(lease_id=created.lease.id, **place)  # DELETE, JSON body
        assert revoked.id == created.lease.id and revoked.status is None
        _login_fails(pg_target, username, password)
        assert not pg_role_exists(username)

    with infisical_sdk.InfisicalSDKClient(host=site_url, cache_ttl=None) as owner:
        owner.auth.universal_auth.login(client_id=admin.client_id, client_secret=admin.client_secret)
        assert owner.dynamic_secrets.delete(name="pg-py", **place).id == defined.id


def test_node_sdk_defines_leases_renews_and_revokes(
    node_sdk: str,  # noqa: F811
    dyn_live: Any,
    pg_target: DbTarget,  # noqa: F811
    tmp_path: Path,
) -> None:
    site_url, _cast, admin, member = dyn_live
    cred_file = tmp_path / "lease.json"

    def step(name: str, who: Any, **extra: str) -> Any:
        result = subprocess.run(
            [node_sdk, str(NODE_DIR / "dynamic.mjs")],
            cwd=NODE_DIR,
            env={**os.environ, "SITE_URL": site_url, "CLIENT_ID": who.client_id, "CLIENT_SECRET": who.client_secret,
                 "STEP": name, "CRED_FILE": str(cred_file), **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, f"step {name}: {result.stderr[-2000:]}"
        return json.loads(result.stdout.strip().splitlines()[-1])

    defined = step("define", admin, INPUTS=json.dumps(infisical_inputs(pg_target)))
    assert defined["type"] == "sql-database" and (defined["defaultTTL"], defined["maxTTL"]) == ("1h", "2h")

    leased = step("lease", member)
    assert leased["dataKeys"] == ["DB_PASSWORD", "DB_USERNAME"] and leased["dynamicSecret"] == "pg-node"
    lease = leased["lease"]
    data = json.loads(cred_file.read_text())
    assert data["DB_USERNAME"] == lease["externalEntityId"]
    with pg_login(pg_target, data["DB_USERNAME"], data["DB_PASSWORD"]) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (1,)

    renewed = step("renew", member, LEASE_ID=lease["id"])
    assert _moment(renewed["lease"]["expireAt"]) - _moment(lease["expireAt"]) == datetime.timedelta(minutes=30)
    # The SDK puts the URL, method and status before the server's message.
    assert renewed["overMax"]["message"].endswith(f"[StatusCode=400] {OVER_MAX}")

    revoked = step("revoke", member, LEASE_ID=lease["id"])
    assert revoked["lease"]["id"] == lease["id"]
    _login_fails(pg_target, data["DB_USERNAME"], data["DB_PASSWORD"])

    assert step("delete", admin)["id"] == defined["id"]
