"""Audit tamper evidence and the smaller audit-related checks (security-bar C2, D3, D4, H1).

D4 runs as a real, separate PostgreSQL role created by ``manage.py db_roles`` (unique name per
test, dropped afterwards) over its own psycopg connection, exactly as web, worker and beat connect
in production, and as a database superuser deleting or rewriting what that role cannot.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client, RequestFactory, override_settings

from audit.maintenance import audit_maintenance
from audit.models import AuditBlock, AuditEvent, Outcome
from audit.sealing import audit_seal_pending
from audit.services import audit_record
from audit.verification import audit_verify
from secrets_app.compat.http import etag_response
from secrets_app.models import SecretVersion
from secrets_app.services.secrets import SecretInput, secret_create
from tests.audit.conftest import ALICE, BOB, RecordEvent, postgres_only
from tests.compat.conftest import BASE, login, make_machine

MAINTENANCE_SETTING = "SELECT set_config('strongroom.audit_maintenance', 'on', true)"
INSERT_EVENT = (
    "INSERT INTO audit_auditevent (occurred_at, action, outcome, actor_type, actor_id, actor_label, actor_role,"
    " environment, path, resource_type, resource_id, source_ip, user_agent, request_id, metadata)"
    " VALUES (now(), 'app.wrote', 'allow', 'system', '', '', '', '', '', '', '', '', '', '', '{}') RETURNING id"
)


@pytest.fixture
def record_event() -> RecordEvent:
    def _record(action: str = "secret.created", *, actor: Any = ALICE, **fields: Any) -> AuditEvent:
        return audit_record(action=action, actor=actor, organization_id=1, project_id=10, **fields)

    return _record


# --- D4: the application's database role ------------------------------------------------------------
def _connect_as(role: str) -> psycopg.Connection[Any]:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=int(db["PORT"] or 5432),
        dbname=db["NAME"],
        user=role,
        password=db["PASSWORD"] or None,
        connect_timeout=5,
    )


def _drop_role(role: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP OWNED BY "{role}"')
        cursor.execute(f'DROP ROLE "{role}"')


@pytest.fixture
def app_role(transactional_db: None) -> Iterator[Callable[[], psycopg.Connection[Any]]]:
    """The app role, set up by ``manage.py db_roles``; yields ``connect()`` for a session as it."""
    name = f"strongroom_app_t{uuid.uuid4().hex[:10]}"
    out = StringIO()
    call_command("db_roles", app_role=name, stdout=out)
    assert f"Database role {name} created" in out.getvalue()
    opened: list[psycopg.Connection[Any]] = []

    def connect() -> psycopg.Connection[Any]:
        opened.append(_connect_as(name))
        return opened[-1]

    yield connect
    for conn in opened:
        conn.close()
    _drop_role(name)


def _refused_as_app(connect: Callable[[], psycopg.Connection[Any]], *statements: str) -> psycopg.Error:
    conn = connect()
    with pytest.raises(psycopg.Error) as refused, conn.transaction():
        conn.execute(MAINTENANCE_SETTING)
        for statement in statements:
            conn.execute(statement)
    return refused.value


@postgres_only
def test_D4_app_role_cannot_update_audit_even_with_maintenance_setting(
    app_role: Callable[[], psycopg.Connection[Any]], record_event: RecordEvent
) -> None:
    event = record_event("secret.value_read", actor=BOB)

    update = _refused_as_app(app_role, f"UPDATE audit_auditevent SET action = 'secret.listed' WHERE id = {event.pk}")  # noqa: S608
    delete = _refused_as_app(app_role, f"DELETE FROM audit_auditevent WHERE id = {event.pk}")  # noqa: S608
    blocks = _refused_as_app(app_role, "DELETE FROM audit_auditblock")

    for error in (update, delete, blocks):
        assert isinstance(error, psycopg.errors.InsufficientPrivilege), error
    assert AuditEvent.objects.get(pk=event.pk).action == "secret.value_read"


@postgres_only
def test_D4_app_role_cannot_truncate_audit_even_with_maintenance_setting(
    app_role: Callable[[], psycopg.Connection[Any]], record_event: RecordEvent
) -> None:
    record_event()

    for table in ("audit_auditevent", "audit_auditblock"):
        error = _refused_as_app(app_role, f"TRUNCATE {table}")
        assert isinstance(error, psycopg.errors.InsufficientPrivilege), error
    assert AuditEvent.objects.count() == 1


@postgres_only
def test_D4_app_role_cannot_disable_trigger_or_take_the_maintenance_role(
    app_role: Callable[[], psycopg.Connection[Any]], record_event: RecordEvent
) -> None:
    event = record_event()

    disable = _refused_as_app(app_role, "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL")
    drop = _refused_as_app(app_role, "DROP TRIGGER audit_auditevent_append_only ON audit_auditevent")
    replace = _refused_as_app(
        app_role,
        "CREATE OR REPLACE FUNCTION strongroom_audit_refuse_change() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END; $$",
    )
    take_role = _refused_as_app(app_role, "SET ROLE strongroom_audit_maint")

    assert all(isinstance(e, psycopg.errors.InsufficientPrivilege) for e in (disable, drop, replace, take_role))
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@postgres_only
def test_D4_app_role_still_writes_audit_rows_and_ordinary_tables(
    app_role: Callable[[], psycopg.Connection[Any]], cast: Any
) -> None:
    conn = app_role()
    with conn.transaction():
        [event_id] = conn.execute(INSERT_EVENT).fetchone() or [None]
        conn.execute("UPDATE secrets_app_project SET name = 'Renamed by the app' WHERE slug = 'acme'")
        owned = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
        ).fetchone()

    assert AuditEvent.objects.get(pk=event_id).action == "app.wrote"
    assert owned == (0,)  # the app role owns nothing


@postgres_only
def test_D4_maintenance_bypass_needs_membership_of_the_maintenance_role(
    transactional_db: None, record_event: RecordEvent
) -> None:
    """A role holding UPDATE on the audit table is still stopped by the trigger, setting or not,
    until it is a member of strongroom_audit_maint; the owner's maintenance (flush) works."""
    event = record_event()
    name = f"strongroom_dba_t{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{name}" LOGIN')
        cursor.execute(f'GRANT SELECT, UPDATE ON audit_auditevent TO "{name}"')
    statement = f"UPDATE audit_auditevent SET action = 'secret.listed' WHERE id = {event.pk}"  # noqa: S608
    try:
        with _connect_as(name) as conn:
            with pytest.raises(psycopg.errors.RestrictViolation, match="not a member of strongroom_audit_maint"):
                with conn.transaction():
                    conn.execute(MAINTENANCE_SETTING)
                    conn.execute(statement)
            with connection.cursor() as cursor:
                cursor.execute(f'GRANT strongroom_audit_maint TO "{name}"')
            with pytest.raises(psycopg.errors.RestrictViolation), conn.transaction():
                conn.execute(statement)  # a member, but without the setting: still refused
            with conn.transaction():
                conn.execute(MAINTENANCE_SETTING)
                assert conn.execute(statement).rowcount == 1
    finally:
        _drop_role(name)

    call_command("flush", interactive=False, verbosity=0)  # as the owner: the product's maintenance
    assert AuditEvent.objects.count() == 0


# --- D4: the external anchor -------------------------------------------------------------------------
def _anchor() -> Path:
    return Path(settings.STRONGROOM_AUDIT_ANCHOR_PATH)


def _verify_command() -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("audit_verify", stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


@pytest.mark.django_db
def test_D4_verify_detects_deleted_newest_block(record_event: RecordEvent) -> None:
    record_event("secret.created")
    audit_seal_pending(delay_seconds=0)
    record_event("secret.value_read", actor=BOB)
    audit_seal_pending(delay_seconds=0)
    assert audit_verify().ok

    # A database superuser removes the newest block and the rows it sealed.
    newest = AuditBlock.objects.get(chain=1, sequence=2)
    with audit_maintenance():
        AuditEvent.objects.filter(id__gte=newest.first_event_id).delete()
        newest.delete()
    status, output = _verify_command()

    assert status == 1
    assert output.strip() == (
        "BROKEN: chain 1 block 2 is missing (deleted): the anchor recorded it (line 2), but the chain's newest block is 1"
    )


@pytest.mark.django_db
def test_D4_verify_detects_a_chain_resealed_after_an_unanchored_edit(record_event: RecordEvent) -> None:
    """Delete the newest block, edit its row, and let the sealer seal it again: the chain is
    consistent, but the anchor remembers the original hash of block 2."""
    record_event("secret.created")
    audit_seal_pending(delay_seconds=0)
    event = record_event("secret.value_read", actor=BOB)
    audit_seal_pending(delay_seconds=0)
    with audit_maintenance():
        AuditBlock.objects.filter(sequence=2).delete()
        AuditEvent.objects.filter(pk=event.pk).update(actor_label="somebody else")
    audit_seal_pending(delay_seconds=0)

    result = audit_verify()

    assert not result.ok
    assert result.first_broken == (
        "chain 1 block 2: hash differs from the anchor (line 2): the chain was rewritten from here on,"
        " or the anchor was edited"
    )


@pytest.mark.django_db
def test_D4_verify_detects_an_edited_anchor(record_event: RecordEvent) -> None:
    record_event()
    audit_seal_pending(delay_seconds=0)
    lines = _anchor().read_text().splitlines()
    record = json.loads(lines[0])
    record["heads"]["1"][1] = "f" * 64
    _anchor().write_text(json.dumps(record) + "\n")

    result = audit_verify()

    assert not result.ok
    assert result.first_broken is not None and result.first_broken.startswith(
        "chain 1 block 1: hash differs from the anchor"
    )


@pytest.mark.django_db
def test_D4_verify_refuses_sealed_blocks_without_an_anchor_and_explains_a_fresh_database(
    record_event: RecordEvent,
) -> None:
    fresh_status, fresh_output = _verify_command()  # nothing sealed, no anchor: fine, and said so
    record_event()
    audit_seal_pending(delay_seconds=0)
    _anchor().unlink()
    status, output = _verify_command()

    assert fresh_status == 0
    assert "anchor: no anchor file yet: nothing has been sealed" in fresh_output
    assert status == 1
    assert output.startswith(f"BROKEN: no anchor file at {_anchor()}")


@pytest.mark.django_db
def test_D4_sealer_anchors_each_new_head_once(record_event: RecordEvent) -> None:
    record_event()
    audit_seal_pending(delay_seconds=0)
    audit_seal_pending(delay_seconds=0)  # nothing new: no second line
    record_event()
    audit_seal_pending(delay_seconds=0)

    entries = [json.loads(line) for line in _anchor().read_text().splitlines()]
    blocks = AuditBlock.objects.order_by("sequence").values_list("sequence", "block_hash", "sealed_through")
    assert [(e["heads"], e["sealed_through"]) for e in entries] == [
        ({"1": [sequence, block_hash]}, through) for sequence, block_hash, through in blocks
    ]
    assert _anchor().stat().st_mode & 0o777 == 0o600
    assert audit_verify().anchor_entries == 1  # the newest anchored head of the one chain


# --- D3: safe encoding -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_D3_c1_control_characters_escaped() -> None:
    # \x9b is CSI on terminals that honour C1 (an ANSI escape in one byte); \x85 is NEL (a newline).
    hostile = "deploy\x9b2J\x85FORGED\x80\x9f"
    response = Client().post(
        f"{BASE}/api/v1/auth/universal-auth/login",
        {"clientId": str(uuid.uuid4()), "clientSecret": "wrong"},
        content_type="application/json",
        HTTP_USER_AGENT=hostile,
    )
    event = audit_record(action="secret.created", actor=ALICE, path=f"/{hostile}", environment=hostile)

    assert response.status_code == 401
    failed = AuditEvent.objects.filter(action__endswith="login_failed").latest("id")
    assert failed.user_agent == "deploy\\u009b2J\\u0085FORGED\\u0080\\u009f"
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.path == "/deploy\\u009b2J\\u0085FORGED\\u0080\\u009f"
    assert not any("\x80" <= ch <= "\x9f" for ch in stored.environment + stored.path + failed.user_agent)


# --- C2: integrity failures ---------------------------------------------------------------------------
def _integrity_answer(response: Any) -> dict[str, Any]:
    assert response.status_code == 500, response.content
    body = response.json()
    assert body["error"]["code"] == "integrity_error"
    assert body["requestId"].startswith("req-")
    return body


@pytest.mark.django_db
def test_C2_flipped_byte_audited_integrity_failed(cast: Any, api: Any) -> None:
    scope = cast.scope(cast.alice)
    secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key="DB_PASSWORD", value="canary-c2-flip"))
    row = SecretVersion.objects.get(secret__key="DB_PASSWORD")
    flipped = bytearray(row.value_ciphertext)
    flipped[-20] ^= 0x01
    SecretVersion.objects.filter(pk=row.pk).update(value_ciphertext=bytes(flipped))

    response = api(cast.bob).get("/api/v1/projects/acme/secrets/DB_PASSWORD/", {"environment": "dev"})
    listing = api(cast.bob).get("/api/v1/projects/acme/secrets/", {"environment": "dev", "include_values": "true"})

    body = _integrity_answer(response)
    _integrity_answer(listing)
    assert b"canary-c2-flip" not in response.content + listing.content
    failures = AuditEvent.objects.filter(action="secret.integrity_failed").order_by("id")
    assert failures.count() == 2
    first = failures[0]
    assert (first.outcome, first.actor_label, first.environment, first.path) == (
        Outcome.ERROR,
        "bob@example.com",
        "dev",
        "/",
    )
    assert (first.resource_type, first.resource_id, first.request_id) == ("secret", "DB_PASSWORD", body["requestId"])
    assert first.metadata == {"secret_id": row.secret_id, "version": 1, "field": "value"}
    assert not AuditEvent.objects.filter(action__in=["secret.value_read", "secret.values_read"]).exists()


@pytest.mark.django_db
def test_C2_swapped_ciphertext_is_refused_and_audited_through_compat(cast: Any) -> None:
    scope = cast.scope(cast.alice)
    for env, value in (("dev", "canary-c2-dev"), ("prod", "canary-c2-prod")):
        secret_create(scope=scope, environment=env, path="/", item=SecretInput(key="API_KEY", value=value))
    prod = SecretVersion.objects.get(secret__key="API_KEY", secret__environment__slug="prod")
    SecretVersion.objects.filter(secret__key="API_KEY", secret__environment__slug="dev").update(
        value_ciphertext=prod.value_ciphertext
    )
    client = Client()
    member = make_machine(cast.project, "ci-c2", "member")
    token = login(client, member)

    response = client.get(
        f"{BASE}/api/v3/secrets/raw/API_KEY?workspaceSlug=acme&environment=dev",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 500, response.content
    assert b"canary-c2" not in response.content
    assert response.json()["reqId"].startswith("req-")
    failure = AuditEvent.objects.get(action="secret.integrity_failed")
    assert (failure.outcome, failure.actor_type, failure.actor_label) == (Outcome.ERROR, "identity", "ci-c2")
    assert (failure.environment, failure.resource_id) == ("dev", "API_KEY")


# --- H1: no offline oracle in compat ETags -------------------------------------------------------------
@pytest.mark.django_db
def test_H1_compat_etag_is_keyed(cast: Any) -> None:
    scope = cast.scope(cast.alice)
    secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key="DB_HOST", value="guessable"))
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {login(client, make_machine(cast.project, 'ci-h1', 'member'))}"}
    url = f"{BASE}/api/v3/secrets/raw?workspaceSlug=acme&environment=dev"

    first = client.get(url, **headers)
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"], **headers)
    # The same body under another server key gets another ETag: nobody without the key can compute it.
    request = RequestFactory().get(url)
    payload = json.loads(first.content)
    with override_settings(SECRET_KEY="another-server-key-" + "x" * 40):
        other_key = etag_response(request, payload)

    etag = first["ETag"].strip('"')
    body = first.content
    assert etag_response(request, payload)["ETag"] == first["ETag"]
    assert other_key.content == body and other_key["ETag"] != first["ETag"]
    assert etag not in {
        hashlib.sha1(body).hexdigest(),  # noqa: S324 - the unkeyed digest it used to be
        hashlib.sha256(body).hexdigest(),
        hashlib.md5(body).hexdigest(),  # noqa: S324
    }
    assert again.status_code == 304  # conditional requests still work


def _flip_value(version_row: Any) -> None:
    flipped = bytearray(version_row.value_ciphertext)
    flipped[-20] ^= 0x01
    SecretVersion.objects.filter(pk=version_row.pk).update(value_ciphertext=bytes(flipped))


@pytest.mark.django_db
def test_C2_rolling_back_to_a_tampered_version_is_refused_and_audited(cast: Any, api: Any) -> None:
    from secrets_app.services.secrets import secret_update

    scope = cast.scope(cast.alice)
    secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key="TOKEN", value="canary-c2-v1"))
    secret_update(
        scope=scope, environment="dev", path="/", key="TOKEN", item=SecretInput(key="TOKEN", value="canary-c2-v2")
    )
    _flip_value(SecretVersion.objects.get(secret__key="TOKEN", version=1))

    response = api(cast.alice).post(
        "/api/v1/projects/acme/secrets/TOKEN/rollback/", {"environment": "dev", "version": 1}, format="json"
    )

    _integrity_answer(response)
    assert b"canary-c2" not in response.content
    failure = AuditEvent.objects.get(action="secret.integrity_failed")
    assert (failure.actor_label, failure.resource_id, failure.metadata["version"]) == ("alice@example.com", "TOKEN", 1)
    assert SecretVersion.objects.filter(secret__key="TOKEN").count() == 2  # nothing half-written
    assert not AuditEvent.objects.filter(action="secret.rolled_back").exists()
