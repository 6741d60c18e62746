"""What a successful universal-auth login writes (one statement on PostgreSQL, issue 14): the token
row, the client secret's use, and the ``identity.logged_in`` row exactly as ``audit_record`` writes
it; nothing at all when the audit row is refused. And the per-address login limiter's window."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.chain import audit_event_as_dict
from audit.context import RequestContext, reset_request_context, set_request_context
from audit.models import AuditEvent
from audit.services import audit_record
from secrets_app.identities.access_tokens import identity_actor
from secrets_app.models import IdentityAccessToken
from tests.identities.universal_support import login, make_robot, require_shared_cache, unique_ip
from tests.support.audit_refusal import allow_audit_inserts, refuse_audit_inserts
from tests.support.celery_worker import require_postgres

TRIGGER = "test_refuse_login_audit"


def test_it_writes_the_token_the_secret_use_and_the_audit_row_audit_record_would(cast: Any) -> None:
    robot = make_robot(cast, access_token_ttl=600, secret={"num_uses_limit": 5})
    answer = login(robot, ip="192.0.2.44")

    assert answer.status_code == 200 and answer.json()["expiresIn"] == 600
    token = IdentityAccessToken.objects.get(identity=robot.identity)
    assert (token.client_secret_id, token.created_ip, token.ttl_seconds) == (robot.secret_row.pk, "192.0.2.44", 600)
    robot.secret_row.refresh_from_db()
    assert robot.secret_row.num_uses == 1 and robot.secret_row.last_used_at == token.created_at

    event = AuditEvent.objects.filter(action="identity.logged_in").get()
    request = RequestContext(source_ip="192.0.2.44", user_agent=event.user_agent, request_id=event.request_id)
    context = set_request_context(request)
    try:
        expected = audit_record(
            action="identity.logged_in",
            actor=identity_actor(robot.identity),
            organization_id=cast.organization.pk,
            resource_type="identity",
            resource_id=str(robot.identity.public_id),
            metadata={"method": "universal-auth", "token_id": token.pk, "expires_in": 600},
        )
    finally:
        reset_request_context(context)
    expected.refresh_from_db()
    written, wanted = audit_event_as_dict(event), audit_event_as_dict(expected)
    assert {k: v for k, v in written.items() if k not in {"id", "occurred_at"}} == {
        k: v for k, v in wanted.items() if k not in {"id", "occurred_at"}
    }
    assert written["metadata"] == {"method": "universal-auth", "token_id": token.pk, "expires_in": 600}
    assert token.created_at <= event.occurred_at


def test_it_sends_two_statements_for_a_login_on_postgresql(cast: Any) -> None:
    require_postgres("the one-statement write is PostgreSQL's; SQLite takes the ORM path")
    robot = make_robot(cast, lockout_enabled=False)
    from secrets_app.identities.universal import universal_auth_login

    with CaptureQueriesContext(connection) as queries:
        issued = universal_auth_login(client_id=robot.client_id, client_secret=robot.client_secret, ip="127.0.0.1")

    assert issued.row.pk == IdentityAccessToken.objects.get(identity=robot.identity).pk
    # The candidates (config, identity, secrets in one SELECT) and the write; the test's own
    # transaction adds no savepoint.
    assert len(queries.captured_queries) == 2, [q["sql"][:80] for q in queries.captured_queries]


@pytest.fixture
def audit_inserts_fail(cast: Any) -> Iterator[None]:
    """A trigger refuses every insert into the audit table while the test body runs."""
    refuse_audit_inserts(TRIGGER)
    yield
    allow_audit_inserts(TRIGGER)


@pytest.mark.django_db(transaction=True)
def test_it_answers_no_token_and_keeps_nothing_when_the_audit_row_is_refused(cast: Any, request: Any) -> None:
    robot = make_robot(cast, lockout_enabled=False, secret={"num_uses_limit": 1})
    request.getfixturevalue("audit_inserts_fail")
    answer = login(robot)

    assert answer.status_code == 503 and "accessToken" not in answer.json()
    assert answer.json()["error"]["code"] == "audit_unavailable"
    assert not IdentityAccessToken.objects.filter(identity=robot.identity).exists()
    robot.secret_row.refresh_from_db()
    assert (robot.secret_row.num_uses, robot.secret_row.last_used_at) == (0, None)

    allow_audit_inserts(TRIGGER)  # the audit log takes rows again: the secret's one use is still there
    assert login(robot).status_code == 200
    assert login(robot).status_code == 401
    assert AuditEvent.objects.filter(action="identity.logged_in").count() == 1


def test_it_counts_login_attempts_in_a_window_that_expires(cast: Any, settings: Any) -> None:
    require_shared_cache("the window's expiry is Redis's")
    settings.STRONGROOM_LOGIN_RATE_PER_MINUTE = 2
    robot, ip = make_robot(cast), unique_ip()
    assert [login(robot, ip=ip).status_code for _ in range(3)] == [200, 200, 429]

    client = cache._cache.get_client()
    keys = client.keys(f"*strongroom:rate:login:universal-auth-login:{ip}:*")
    assert len(keys) in {1, 2}  # two when the minute turned between the requests
    assert sum(int(client.get(key)) for key in keys) == 3
    assert all(0 < client.ttl(key) <= 65 for key in keys)  # never a counter that blocks the address for good
