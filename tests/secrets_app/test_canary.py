"""Canary values written through the services never appear in plain text, in any encoding, in the
database, its dump, the audit rows, the logs or exception messages (security bar C1, D3, H1, H2)."""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shutil
import subprocess
from urllib.parse import quote

import pytest
from django.db import connection

from audit.models import AuditEvent
from secrets_app.errors import DomainError
from secrets_app.models import SecretVersion
from secrets_app.selectors.secrets import secret_get, secret_list
from secrets_app.services.folders import folder_ensure
from secrets_app.services.rollback import secret_rollback
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert, secret_update
from tests.secrets_app.conftest import dump_tables, put

CANARY = f"CANARY_{secrets.token_hex(16)}"
CANARIES = {
    "ascii": CANARY,
    "unicode": f"\u00fcn\u00efc\u00f8d\u00e9 {CANARY} \U0001f511",
    "pem": f"-----BEGIN PRIVATE KEY-----\n{base64.b64encode(CANARY.encode()).decode()}\n{CANARY}\r\n-----END PRIVATE KEY-----\n",
    "comment": f"comment {CANARY[::-1]}",
    "old-version": f"old {CANARY.lower()}-v1",
    "override": f"override {CANARY.upper()}",
    "bulk": f"bulk-{secrets.token_hex(16)}",
}
KEY_NAMES = ("CANARY_HOLDER", "CANARY_UNICODE", "CANARY_PEM", "CANARY_ROTATED", "CANARY_BULK")


def _base64_needles(data: bytes) -> set[bytes]:
    """Base64 of *data* at each of the three byte alignments it can have inside a longer value,
    trimmed to the characters that depend on *data* alone."""
    needles = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + data)
        core = encoded[4 if pad else 0 : -4]
        needles |= {core, core.replace(b"+", b"-").replace(b"/", b"_")}
    return needles


def _forms(text: str) -> set[bytes]:
    raw = text.encode("utf-8")
    return {
        raw,
        raw.hex().encode(),
        raw.hex().upper().encode(),
        quote(text, safe="").encode(),
        json.dumps(text)[1:-1].encode(),
        json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8"),
        text.encode("utf-16-le"),
        *_base64_needles(raw),
    }


def encodings(text: str) -> set[bytes]:
    """Raw, hex, URL-encoded, JSON-escaped, UTF-16 and base64 forms of *text*; a multi-line value is
    also looked for line by line (a dump may escape or split the newlines)."""
    forms = _forms(text)
    for line in text.splitlines():
        if len(line) >= 16 and not line.startswith("-----"):
            forms |= _forms(line)
    return {form for form in forms if len(form) >= 12}


NEEDLES = {name: encodings(value) for name, value in CANARIES.items()}


def hits(haystack: bytes) -> list[str]:
    return sorted({name for name, forms in NEEDLES.items() for form in forms if form in haystack})


def rows_as_bytes(dump: dict) -> bytes:
    parts = []
    for table, rows in dump.items():
        for row in rows:
            for cell in row:
                parts.append(cell if isinstance(cell, bytes) else str(cell).encode("utf-8", "surrogatepass"))
        parts.append(table.encode())
    return b"\n".join(parts)


def write_canaries(cast) -> None:
    """Every kind of write a canary can travel through: create, comments, old versions, overrides,
    bulk, rollback, nested folders; then reads with and without expansion."""
    alice, bob = cast.scope(cast.alice), cast.scope(cast.bob)
    folder_ensure(scope=alice, environment="prod", path="/backend/api")
    put(alice, "CANARY_HOLDER", CANARIES["ascii"], comment=CANARIES["comment"])
    put(alice, "CANARY_UNICODE", CANARIES["unicode"], env="prod", path="/backend/api")
    put(alice, "CANARY_PEM", CANARIES["pem"], env="staging")
    put(alice, "CANARY_ROTATED", CANARIES["old-version"])
    secret_update(
        scope=alice,
        environment="dev",
        path="/",
        key="CANARY_ROTATED",
        item=SecretInput(key="CANARY_ROTATED", value="v2"),
    )
    secret_rollback(scope=alice, environment="dev", path="/", key="CANARY_ROTATED", version=1)
    put(bob, "CANARY_HOLDER", CANARIES["override"], secret_type="personal")
    secret_bulk_upsert(
        scope=alice, environment="dev", path="/", items=[SecretInput(key="CANARY_BULK", value=CANARIES["bulk"])]
    )
    put(alice, "REFERENCE", "${CANARY_HOLDER} ${prod.backend.api.CANARY_UNICODE}")
    for scope in (alice, bob):
        views = secret_list(scope, environment="dev", path="/", include_values=True, expand=True).secrets
        assert CANARY in " ".join(view.value or "" for view in views)
        assert secret_get(scope, environment="dev", path="/", key="REFERENCE", expand=True).value
    assert secret_get(alice, environment="prod", path="/backend/api", key="CANARY_UNICODE").value == CANARIES["unicode"]
    assert secret_get(alice, environment="staging", path="/", key="CANARY_PEM").value == CANARIES["pem"]


def test_it_finds_a_canary_in_every_encoding_it_looks_for() -> None:
    value = f"prefix-{CANARIES['unicode']}-suffix".encode()
    for blob in (
        value,
        base64.b64encode(value),
        base64.b64encode(b"x" + value),
        base64.urlsafe_b64encode(b"xy" + value),
        value.hex().encode(),
        quote(value.decode()).encode(),
        json.dumps(value.decode()).encode(),
    ):
        assert "unicode" in hits(blob), blob[:40]
    assert "pem" in hits(json.dumps(CANARIES["pem"]).encode())
    assert hits(base64.b64encode(b"..." + CANARIES["bulk"].encode())) == ["bulk"]
    assert hits(b"CANARY_holder and other harmless text") == []


@pytest.mark.django_db(transaction=True)
def test_it_leaves_no_canary_in_any_table_row_or_database_file(cast, shared_db) -> None:
    write_canaries(cast)

    dump = rows_as_bytes(dump_tables())
    assert hits(dump) == []
    for key in KEY_NAMES:  # the dump is real: key names are plain text by design
        assert key.encode() in dump
    assert SecretVersion.objects.count() >= 9
    if shared_db is not None:  # SQLite: the database file and its write-ahead log, byte for byte
        connection.close()
        files = [path for path in (shared_db, shared_db.with_name(shared_db.name + "-wal")) if path.exists()]
        raw = b"".join(path.read_bytes() for path in files)
        assert b"CANARY_HOLDER" in raw
        assert hits(raw) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_it_leaves_no_canary_in_a_pg_dump(cast) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump needs the PostgreSQL test database (set DATABASE_URL)")
    write_canaries(cast)
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    base = ["pg_dump", "--no-owner", "-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432)]
    base += ["-U", db.get("USER") or "postgres", db["NAME"]]

    plain = subprocess.run(base, capture_output=True, env=env, check=True, timeout=120).stdout
    custom = subprocess.run([*base, "-Fc", "-Z", "0"], capture_output=True, env=env, check=True, timeout=120).stdout

    for dump in (plain, custom):
        assert b"CANARY_HOLDER" in dump
        assert b"secrets_app_secretversion" in dump
        assert hits(dump) == []


@pytest.mark.django_db
def test_it_leaves_no_canary_in_audit_rows(cast) -> None:
    write_canaries(cast)

    rows = json.dumps(list(AuditEvent.objects.values()), default=str, ensure_ascii=False).encode()
    assert hits(rows) == []
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "secret.created",
        "secret.updated",
        "secret.rolled_back",
        "secret.value_read",
        "secret.values_read",
    } <= actions
    reads = AuditEvent.objects.filter(action="secret.value_read", resource_id="REFERENCE")
    assert all(event.metadata["references"] for event in reads)


@pytest.mark.django_db
def test_it_leaves_no_canary_in_logs_sql_logs_reprs_or_error_messages(cast, caplog, capsys) -> None:
    alice, dave = cast.scope(cast.alice), cast.scope(cast.dave)
    messages = []
    connection.force_debug_cursor = True  # log every SQL statement with its parameters, as DEBUG=True would
    try:
        # Root and the SQL logger at DEBUG (settings keep SQL at WARNING; this proves even SQL logs hold none).
        with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="django.db.backends"):
            write_canaries(cast)
            views = secret_list(alice, environment="dev", path="/", include_values=True).secrets
            messages += [repr(view) for view in views] + [str(view) for view in views]
            failures = [
                lambda: put(alice, "CANARY_HOLDER", CANARIES["ascii"]),  # exists
                lambda: put(alice, "TOO_BIG", CANARIES["ascii"] * 40_000),  # over 1 MiB
                lambda: put(alice, "BAD KEY", CANARIES["ascii"]),
                lambda: put(dave, "DAVE", CANARIES["ascii"]),  # not allowed
                lambda: put(alice, "BAD_COMMENT", "v", comment=CANARIES["ascii"] + "\ud800"),
            ]
            for failure in failures:
                with pytest.raises(DomainError) as raised:
                    failure()
                messages += [str(raised.value), repr(raised.value), json.dumps(raised.value.fields)]
    finally:
        connection.force_debug_cursor = False

    assert any("secrets_app_secretversion" in record.getMessage() for record in caplog.records), "SQL was not logged"
    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {getattr(record, 'sql', '')} {getattr(record, 'params', '')!r}"
        for record in caplog.records
    )
    captured = capsys.readouterr()
    assert hits(logged.encode("utf-8", "surrogatepass")) == []
    assert hits("\n".join(messages).encode("utf-8", "surrogatepass")) == []
    assert hits((captured.out + captured.err).encode("utf-8", "surrogatepass")) == []
