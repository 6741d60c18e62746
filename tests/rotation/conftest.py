"""Real targets for rotation tests.

- ``scram_pg``: a private PostgreSQL 15 cluster on a free port whose ``pg_hba.conf`` checks
  passwords (scram-sha-256) for everyone but the ``postgres`` superuser: the machine's PostgreSQL
  trusts every TCP login on 127.0.0.1, so it could never show that an old password is rejected.
- ``mysql_target`` (tests/dynamic/conftest.py): a database and least-privilege root on the
  machine's MariaDB, which checks passwords.
- ``pg_rotation_target`` / ``mysql_rotation_target``: a root account plus two application users
  with passwords of their own, fresh per test.
- ``moto``: one moto server (authentication enforced) for the whole session and every file of
  this folder; ``root_key``: a least-privilege IAM user the AWS rotations act as; ``app_user``: a
  fresh IAM user per test whose keys a rotation owns.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.dynamic.conftest import DbTarget, allow_local, mysql_admin, mysql_target  # noqa: F401
from tests.dynamic.providers.aws import MotoServer, moto_session
from tests.faults.services import PrivatePostgres, ServiceUnavailable


class ScramPostgres(PrivatePostgres):
    def start(self) -> None:
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )
        super().start()


@pytest.fixture(scope="session")
def scram_pg() -> Iterator[ScramPostgres]:
    try:
        server = ScramPostgres()
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
    server.start()
    try:
        yield server
    finally:
        server.close()


AWS_ROOT_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys"],
            "Resource": "*",
        }
    ],
}


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    yield from moto_session()


@pytest.fixture(scope="session")
def root_key(moto: MotoServer) -> tuple[str, str]:
    """The access key of a least-privilege IAM user the rotations act as (the policy
    docs/rotation.md asks for; moto matches only ``"Resource": "*"``)."""
    iam = moto.client("iam")
    name = f"strongroom-rotator-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="rotate-keys", PolicyDocument=json.dumps(AWS_ROOT_POLICY))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture
def app_user(moto: MotoServer) -> str:
    """A fresh IAM user whose keys a rotation owns."""
    name = f"app-{uuid.uuid4().hex[:8]}"
    moto.client("iam").create_user(UserName=name)
    return name


@dataclass
class RotationTarget:
    """A root account and two users (``app_a``, ``app_b``-like names) with known passwords."""

    db: DbTarget
    users: list[str]
    passwords: dict[str, str] = field(repr=False)


def _pg_target(server: ScramPostgres) -> RotationTarget:
    run = uuid.uuid4().hex[:10]
    root = DbTarget("postgresql", "127.0.0.1", server.port, f"rot_{run}", f"rotroot_{run}", secrets.token_urlsafe(18))
    users = [f"app_{run}_a", f"app_{run}_b"]
    passwords = {user: secrets.token_urlsafe(18) for user in users}
    server.execute(f"CREATE ROLE \"{root.username}\" LOGIN CREATEROLE PASSWORD '{root.password}'")
    server.execute(f'CREATE DATABASE "{root.database}" OWNER "{root.username}"')
    for user in users:
        server.execute(f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{passwords[user]}'")
        server.execute(f'GRANT CONNECT ON DATABASE "{root.database}" TO "{user}"')
    return RotationTarget(root, users, passwords)


@pytest.fixture
def pg_rotation_target(scram_pg: ScramPostgres) -> RotationTarget:
    return _pg_target(scram_pg)


@pytest.fixture
def mysql_rotation_target(mysql_target: DbTarget) -> Iterator[RotationTarget]:  # noqa: F811
    run = uuid.uuid4().hex[:8]
    users = [f"app_{run}_a", f"app_{run}_b"]
    passwords = {user: secrets.token_urlsafe(18) for user in users}
    admin = mysql_admin()
    try:
        with admin.cursor() as cursor:
            for user in users:
                cursor.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (passwords[user],))
                cursor.execute(f"GRANT SELECT ON `{mysql_target.database}`.* TO '{user}'@'%'")
        yield RotationTarget(mysql_target, users, passwords)
    finally:
        with admin.cursor() as cursor:
            for user in users:
                cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()


def login(target: RotationTarget, username: str, password: str) -> bool:
    """Whether the target accepts *username* / *password* (a real login, a real query)."""
    db = target.db
    try:
        if db.kind == "postgresql":
            import psycopg

            with psycopg.connect(
                host=db.host, port=db.port, user=username, password=password, dbname=db.database, connect_timeout=5
            ) as conn:
                conn.execute("SELECT 1")
        else:
            import pymysql

            pymysql.connect(
                host=db.host, port=db.port, user=username, password=password, database=db.database, connect_timeout=5
            ).close()
        return True
    except Exception:  # noqa: BLE001 - any refusal is "no"
        return False


def define_rotation(
    cast: Any, target: RotationTarget, *, name: str = "db", mode: str = "alternate", **kwargs: Any
) -> Any:
    from rotation.services.rotations import RotationInput, rotation_create

    return rotation_create(
        scope=cast.scope(cast.alice),
        environment="dev",
        path="/",
        data=RotationInput(
            name=name,
            kind=target.db.kind,
            config=kwargs.pop("config", target.db.config()),
            credentials=target.db.credentials(),
            usernames=target.users if mode == "alternate" else target.users[:1],
            secrets_mapping=kwargs.pop("mapping", {"username": "DB_USERNAME", "password": "DB_PASSWORD"}),
            mode=mode,
            **kwargs,
        ),
    )


def owned_values(cast: Any) -> dict[str, str]:
    from secrets_app.selectors.secrets import secret_list

    result = secret_list(cast.scope(cast.alice), environment="dev", path="/", include_values=True)
    return {view.key: view.value for view in result.secrets if view.key in ("DB_USERNAME", "DB_PASSWORD")}


def digest(values: dict[str, str] | None) -> str:
    """A stand-in for a map of secrets in assertions: a failing comparison prints this, never a value."""
    import hashlib

    return hashlib.sha256(repr(sorted((values or {}).items())).encode()).hexdigest()[:16]
