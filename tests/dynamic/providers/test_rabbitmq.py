"""RabbitMQ users as leases, through the machine's RabbitMQ management API (127.0.0.1:15672;
``.ci/run`` enables the plugin), on a virtual host of this test run: the leased user connects
over AMQP with pika and declares and publishes where its permissions allow, and after revocation
the broker refuses the login (ACCESS_REFUSED)."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pika
import pytest
import requests

pytestmark = pytest.mark.django_db

API = "http://127.0.0.1:15672/api"
ADMIN = ("guest", "guest")


def _api(method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, API + path, auth=ADMIN, timeout=10, **kwargs)


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    try:
        _api("GET", "/whoami").raise_for_status()
    except requests.RequestException:
        if os.environ.get("CI") or os.environ.get("STRONGROOM_TEST_REQUIRE_SERVICES"):
            pytest.fail("RabbitMQ's management API is required (127.0.0.1:15672; .ci/run enables it)")
        pytest.skip("RabbitMQ's management API is not running on 127.0.0.1:15672")
    name = f"strongroom-test-{uuid.uuid4().hex[:8]}"
    assert _api("PUT", f"/vhosts/{quote(name, safe='')}").status_code in (201, 204)
    try:
        yield name
    finally:
        _api("DELETE", f"/vhosts/{quote(name, safe='')}")


def _define(cast: Any, vhost: str, name: str = "broker", password: str = "guest", **kwargs: Any) -> Any:  # noqa: S107
    from dynamic.services.definitions import Definition, dynamic_secret_create

    return dynamic_secret_create(
        scope=cast.scope(cast.alice),
        environment="dev",
        path="/",
        name=name,
        provider="rabbitmq",
        definition=Definition(
            config={
                "host": "http://127.0.0.1",
                "port": 15672,
                "username": ADMIN[0],
                "virtualHostName": vhost,
                "configurePermission": "^lease-.*",
                "writePermission": "^(amq\\.default|lease-.*)$",
                "readPermission": "^lease-.*",
                "tags": "monitoring",
            },
            credentials={"password": password},
            default_ttl="1h",
            **kwargs,
        ),
    )


def _amqp(vhost: str, username: str, password: str) -> pika.BlockingConnection:
    parameters = pika.ConnectionParameters(
        "127.0.0.1",
        5672,
        vhost,
        pika.PlainCredentials(username, password),
        connection_attempts=1,
        socket_timeout=5,
        blocked_connection_timeout=5,
    )
    return pika.BlockingConnection(parameters)


def test_it_leases_a_user_that_publishes_on_its_vhost_until_revoked(
    cast: Any, allow_local: None, dyn_settings: Any, vhost: str
) -> None:
    from audit.models import AuditEvent
    from dynamic.models import Lease
    from dynamic.services.leases import lease_create, lease_renew, lease_revoke

    issued = lease_create(scope=cast.scope(cast.bob), secret=_define(cast, vhost))

    assert set(issued.data) == {"DB_USERNAME", "DB_PASSWORD"}
    username, password = issued.data["DB_USERNAME"], issued.data["DB_PASSWORD"]
    assert sorted(_api("GET", f"/users/{username}").json()["tags"]) == ["monitoring", "strongroom-lease"]
    connection = _amqp(vhost, username, password)
    channel = connection.channel()
    channel.queue_declare("lease-work")
    channel.basic_publish("", "lease-work", b"hello")
    method, _, body = channel.basic_get("lease-work", auto_ack=True)
    assert body == b"hello"
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="ACCESS_REFUSED"):
        connection.channel().queue_declare("elsewhere")  # outside its configure permission

    lease_renew(scope=cast.scope(cast.bob), lease=issued.lease, ttl="30m")  # nothing to do remotely
    revoked = lease_revoke(scope=cast.scope(cast.bob), lease=Lease.objects.get(pk=issued.lease.pk))

    assert revoked.status == "revoked"
    assert _api("GET", f"/users/{username}").status_code == 404
    assert _closed_by_broker(connection)  # the open connection ends too
    with pytest.raises(pika.exceptions.ProbableAuthenticationError, match="ACCESS_REFUSED"):
        _amqp(vhost, username, password)
    events = AuditEvent.objects.filter(resource_id=str(issued.lease.public_id))
    assert events.exists() and not any(password in str(event.metadata) for event in events)


def _closed_by_broker(connection: pika.BlockingConnection) -> bool:
    """Whether the broker closes the connection within 10 s (it does so shortly after the user
    is deleted: CONNECTION_FORCED)."""
    for _ in range(20):
        try:
            connection.process_data_events(time_limit=0.5)
        except pika.exceptions.ConnectionClosedByBroker:
            return True
        if not connection.is_open:
            return True
    return False


def test_a_name_that_exists_is_refused_and_left_alone(
    cast: Any, allow_local: None, dyn_settings: Any, vhost: str
) -> None:
    from dynamic.models import Lease
    from dynamic.services.leases import lease_create
    from secrets_app.errors import ValidationFailed

    theirs, theirs_password = f"theirs-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    _api("PUT", f"/users/{theirs}", json={"password": theirs_password, "tags": ""})
    _api("PUT", f"/permissions/{quote(vhost, safe='')}/{theirs}", json={"configure": "", "write": "", "read": ""})
    try:
        secret = _define(cast, vhost, name="fixed", username_template=theirs)

        with pytest.raises(ValidationFailed, match="already exists and is not ours: nothing was created"):
            lease_create(scope=cast.scope(cast.alice), secret=secret)

        assert Lease.objects.get(dynamic_secret=secret).status == "revoked"
        _amqp(vhost, theirs, theirs_password).close()  # their password still works
        assert _api("GET", f"/permissions/{quote(vhost, safe='')}/{theirs}").json()["configure"] == ""
    finally:
        _api("DELETE", f"/users/{theirs}")


def test_revocation_is_idempotent_and_never_deletes_a_user_it_did_not_make(
    cast: Any, allow_local: None, dyn_settings: Any, vhost: str
) -> None:
    from dynamic.models import Lease
    from dynamic.services.leases import lease_create
    from dynamic.services.revocation import revoke_remote

    issued = lease_create(scope=cast.scope(cast.alice), secret=_define(cast, vhost))
    lease = Lease.objects.get(pk=issued.lease.pk)
    username = issued.lease.username
    _api("DELETE", f"/users/{username}")
    assert revoke_remote(lease) is None  # already gone: revoked

    _api("PUT", f"/users/{username}", json={"password": secrets.token_urlsafe(16), "tags": ""})  # someone else's now
    try:
        note = revoke_remote(lease)
        assert note is not None and "left alone" in note
        assert _api("GET", f"/users/{username}").status_code == 200
    finally:
        _api("DELETE", f"/users/{username}")


def test_a_wrong_admin_password_is_refused_on_save_without_echoing_it(
    cast: Any, allow_local: None, dyn_settings: Any, vhost: str
) -> None:
    from dynamic.models import DynamicSecret
    from secrets_app.errors import ValidationFailed

    wrong = "not-the-admin-" + secrets.token_hex(8)
    with pytest.raises(ValidationFailed, match="management API: HTTP 401") as refused:
        _define(cast, vhost, password=wrong)
    assert wrong not in str(refused.value) and wrong not in str(refused.value.__dict__)
    assert not DynamicSecret.objects.filter(name="broker").exists()


def test_a_management_url_with_a_path_or_port_is_refused(cast: Any, allow_local: None, dyn_settings: Any) -> None:
    from dynamic.providers.registry import PROVIDERS
    from secrets_app.plugins import PluginFieldError

    provider = PROVIDERS.get("rabbitmq")
    base = {
        "username": "admin",
        "virtualHostName": "/",
        "configurePermission": ".*",
        "writePermission": ".*",
        "readPermission": ".*",
    }
    for host in ("http://127.0.0.1:15672", "http://127.0.0.1/api", "ftp://127.0.0.1"):
        with pytest.raises(PluginFieldError, match="config.host"):
            provider.validate(config={**base, "host": host}, credentials={"password": "x"})
    with pytest.raises(PluginFieldError, match="set by Strongroom"):
        provider.validate(
            config={**base, "host": "http://h", "tags": "strongroom-lease"}, credentials={"password": "x"}
        )
    cleaned, _ = provider.validate(config={**base, "host": "HTTPS://Rabbit.Example/"}, credentials={"password": "x"})
    assert cleaned["host"] == "https://rabbit.example"
