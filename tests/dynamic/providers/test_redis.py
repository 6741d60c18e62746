"""Redis ACL users as leases, against a private redis-server started for this module on a free port
(never the machine's shared 127.0.0.1:6379, which the target check refuses anyway): the leased user
authenticates and reads, a write is refused, and after revocation the login fails."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis

pytestmark = pytest.mark.django_db


@dataclass
class RedisServer:
    port: int
    password: str = field(repr=False)

    def root(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=5)

    def login(self, username: str, password: str) -> redis.Redis:
        client = redis.Redis(host="127.0.0.1", port=self.port, username=username, password=password, socket_timeout=5)
        client.exists("greeting")  # AUTH happens on connect; EXISTS is a read
        return client


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(_free_port(), secrets.token_urlsafe(24))
    workdir = tempfile.mkdtemp(prefix="sr-redis-")
    process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
        [
            binary,
            "--port", str(server.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", workdir,
            "--requirepass", server.password,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                server.root().ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("the private redis-server did not start")
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


READ_ONLY = "ACL SETUSER {{username}} on >{{password}} ~* &* +@read"


def _define(cast: Any, server: RedisServer, name: str = "cache", password: str | None = None, **kwargs: Any) -> Any:
    from dynamic.services.definitions import Definition, dynamic_secret_create

    return dynamic_secret_create(
        scope=cast.scope(cast.alice),
        environment="dev",
        path="/",
        name=name,
        provider="redis",
        definition=Definition(
            config={"host": "127.0.0.1", "port": server.port},
            credentials={"password": password or server.password},
            default_ttl="1h",
            max_ttl="24h",
            **kwargs,
        ),
    )


def test_it_leases_an_acl_user_that_reads_but_cannot_write_until_revoked(
    cast: Any, allow_local: None, dyn_settings: Any, redis_server: RedisServer
) -> None:
    from audit.models import AuditEvent
    from dynamic.services.leases import lease_create, lease_renew, lease_revoke

    redis_server.root().set("greeting", "hello")
    secret = _define(cast, redis_server, statements={"creation": READ_ONLY})

    issued = lease_create(scope=cast.scope(cast.bob), secret=secret)

    assert set(issued.data) == {"DB_USERNAME", "DB_PASSWORD"}
    username, password = issued.data["DB_USERNAME"], issued.data["DB_PASSWORD"]
    assert issued.lease.username == username
    leased = redis_server.login(username, password)
    assert leased.get("greeting") == b"hello"
    with pytest.raises(redis.exceptions.NoPermissionError):
        leased.set("greeting", "changed")
    assert redis_server.root().get("greeting") == b"hello"

    renewed = lease_renew(scope=cast.scope(cast.bob), lease=issued.lease, ttl="30m")  # nothing to run
    assert redis_server.login(username, password).get("greeting") == b"hello"

    revoked = lease_revoke(scope=cast.scope(cast.bob), lease=renewed)

    assert revoked.status == "revoked"
    assert redis_server.root().acl_getuser(username) is None
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis_server.login(username, password)
    events = AuditEvent.objects.filter(resource_id=str(issued.lease.public_id))
    assert events.exists() and not any(password in str(event.metadata) for event in events)


def test_revoking_a_user_that_is_gone_is_success(
    cast: Any, allow_local: None, dyn_settings: Any, redis_server: RedisServer
) -> None:
    from dynamic.models import Lease
    from dynamic.services.leases import lease_create
    from dynamic.services.revocation import revoke_remote

    issued = lease_create(scope=cast.scope(cast.alice), secret=_define(cast, redis_server))
    redis_server.root().acl_deluser(issued.lease.username)  # removed by hand meanwhile

    assert revoke_remote(Lease.objects.get(pk=issued.lease.pk)) is None


@pytest.mark.parametrize("taken", ["theirs", "default"])
def test_a_name_that_exists_is_refused_and_left_alone(
    cast: Any, allow_local: None, dyn_settings: Any, redis_server: RedisServer, taken: str
) -> None:
    """A fixed username template names someone else's user (or Redis's ``default``): ACL SETUSER
    would silently change it, so nothing runs, the lease closes, and that user keeps working."""
    from dynamic.models import Lease
    from dynamic.services.leases import lease_create
    from secrets_app.errors import ValidationFailed

    theirs_password = secrets.token_urlsafe(16)
    name = f"theirs-{secrets.token_hex(4)}" if taken == "theirs" else "default"
    root = redis_server.root()
    if taken == "theirs":
        root.acl_setuser(name, enabled=True, passwords=[f"+{theirs_password}"], commands=["+exists"], keys=["~*"])
    before = root.acl_getuser(name)
    secret = _define(cast, redis_server, name=f"fixed-{taken}", username_template=name)
    try:
        with pytest.raises(ValidationFailed, match="already exists and is not ours: nothing was created"):
            lease_create(scope=cast.scope(cast.alice), secret=secret)

        assert Lease.objects.get(dynamic_secret=secret).status == "revoked"
        if taken == "theirs":
            assert redis_server.login(name, theirs_password)
        assert root.acl_getuser(name) == before  # unchanged (for "default": the root here)
        assert redis_server.root().ping()
    finally:
        if taken == "theirs":
            root.acl_deluser(name)


@pytest.mark.parametrize(
    "creation",
    [
        "ACL SETUSER default on nopass +@all",
        "ACL SETUSER {{username}} on >{{password}} +@all; ACL DELUSER default",
        "ACL DELUSER {{username}} default",
        "FLUSHALL",
        "CONFIG SET requirepass {{password}}",
    ],
)
def test_statements_that_could_touch_another_user_or_the_server_are_refused_on_save(
    cast: Any, allow_local: None, dyn_settings: Any, redis_server: RedisServer, creation: str
) -> None:
    from secrets_app.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        _define(cast, redis_server, statements={"creation": creation})
    assert "statements.creation" in str(refused.value)
    assert "ACL" in str(refused.value) or "{{username}}" in str(refused.value)


def test_a_wrong_root_password_is_refused_on_save_without_echoing_it(
    cast: Any, allow_local: None, dyn_settings: Any, redis_server: RedisServer
) -> None:
    from secrets_app.errors import ValidationFailed

    wrong = "not-the-root-" + secrets.token_hex(8)
    with pytest.raises(ValidationFailed, match="Redis error WRONGPASS") as refused:
        _define(cast, redis_server, password=wrong)
    assert wrong not in str(refused.value)


def test_a_value_with_whitespace_can_never_become_a_second_argument() -> None:
    from dynamic.providers.templates import REDIS, TemplateError, render_statement

    template = "ACL SETUSER {{username}} on >{{password}} ~* +@read"
    assert render_statement(template, {"username": "u1", "password": "p-1.~!*"}, REDIS).split() == [
        "ACL", "SETUSER", "u1", "on", ">p-1.~!*", "~*", "+@read",
    ]  # fmt: skip
    for bad in ("p w", "p\nFLUSHALL", "p\tx", "p\r\nx", "p\x00", ""):
        with pytest.raises(TemplateError):
            render_statement(template, {"username": "u1", "password": bad}, REDIS)


def test_the_shared_redis_is_refused_as_a_target(cast: Any, allow_local: None, dyn_settings: Any) -> None:
    from secrets_app.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="Strongroom's own database or Redis"):
        _define(cast, RedisServer(6379, "unused"))


def test_any_value_renders_as_exactly_one_argument_or_is_refused() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from dynamic.providers.redis.provider import command_words
    from dynamic.providers.templates import REDIS, TemplateError, render_statement

    template = "ACL SETUSER {{username}} on >{{password}} ~* +@read"

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=40))
    def check(value: str) -> None:
        try:
            rendered = render_statement(template, {"username": "u1", "password": value}, REDIS)
        except TemplateError:
            return
        assert command_words(rendered) == ["ACL", "SETUSER", "u1", "on", ">" + value, "~*", "+@read"]

    check()
