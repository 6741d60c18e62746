"""A machine login's writes: the access-token row, its ``identity.logged_in`` audit row and (universal
auth) one use of the client secret, all or nothing.

On PostgreSQL they are one statement in autocommit (issue 14: a login was BEGIN, SAVEPOINT, UPDATE,
INSERT, INSERT, RELEASE, COMMIT)::

    WITH used AS (UPDATE clientsecret … WHERE id = … AND unrevoked AND under its limit RETURNING id),
         token AS (INSERT INTO identityaccesstoken … SELECT … FROM used RETURNING id),
         event AS (INSERT INTO audit_auditevent … SELECT …, metadata || {"token_id": token.id} FROM token)
    SELECT token.id FROM token, event

A statement is atomic, so the audit row fails closed exactly as in a transaction: if it is refused,
the token row and the use count are not kept and no token is returned. The use count is a
compare-and-set on the row (``num_uses < num_uses_limit`` under its row lock), so exactly
``num_uses_limit`` logins succeed whatever the concurrency; zero rows from ``used`` write nothing.

Column lists and parameters come from the models' fields (``get_db_prep_save``), and the audit row
from ``audit_event_build``, the builder ``audit_record`` uses: the rows are the ones the ORM would
have written. Other databases (SQLite for ``make run``) take the ORM path in a transaction.
"""

from __future__ import annotations

import datetime
import functools
from contextlib import nullcontext
from typing import Any

from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F, Model, Q

from audit.models import AuditEvent
from audit.services import AuditWriteError
from secrets_app.models import ClientSecret, IdentityAccessToken

TOKEN_ID_KEY = "token_id"  # noqa: S105 - a metadata key
REFUSED = "the database refused the login's rows (token, audit event), so no token was issued"


class ClientSecretUsedUp(Exception):
    """The client secret reached its use limit (or was revoked) after it was read: nothing was written."""


def _insert_params(instance: Model) -> list[Any]:
    """*instance*'s INSERT parameters, as the ORM prepares them, in ``_fields`` order."""
    return [field.get_db_prep_save(field.pre_save(instance, add=True), connection) for field in _fields(type(instance))]


def _fields(model: type[Model]) -> list[Any]:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


@functools.cache
def _statement(alias: str, *, count_use: bool) -> str:
    """The login's one statement; only table and column names (from the models) are formatted in."""
    quote = connections[alias].ops.quote_name

    def columns(model: type[Model]) -> str:
        return ", ".join(quote(field.column) for field in _fields(model))

    token_values = ", ".join(["%s"] * len(_fields(IdentityAccessToken)))
    event_values = [
        f"%s::jsonb || jsonb_build_object('{TOKEN_ID_KEY}', token.id)" if field.name == "metadata" else "%s"
        for field in _fields(AuditEvent)
    ]
    parts = []
    if count_use:
        parts.append(
            f"used AS (UPDATE {quote(ClientSecret._meta.db_table)} SET num_uses = num_uses + 1, last_used_at = %s"  # noqa: S608
            " WHERE id = %s AND revoked_at IS NULL AND (num_uses_limit = 0 OR num_uses < num_uses_limit)"
            " RETURNING id)"
        )
    token_source = f"SELECT {token_values} FROM used" if count_use else f"VALUES ({token_values})"  # noqa: S608
    parts.append(
        f"token AS (INSERT INTO {quote(IdentityAccessToken._meta.db_table)} ({columns(IdentityAccessToken)})"
        f" {token_source} RETURNING id)"
    )
    parts.append(
        f"event AS (INSERT INTO {quote(AuditEvent._meta.db_table)} ({columns(AuditEvent)})"  # noqa: S608
        f" SELECT {', '.join(event_values)} FROM token RETURNING id)"
    )
    # Only table and column names are formatted in; every value is a %s parameter.
    return f"WITH {', '.join(parts)} SELECT token.id FROM token, event"  # noqa: S608


def _one_statement(
    *, row: IdentityAccessToken, event: AuditEvent, client_secret_id: int | None, used_at: datetime.datetime
) -> int | None:
    params: list[Any] = [used_at, client_secret_id] if client_secret_id is not None else []
    params += _insert_params(row) + _insert_params(event)
    sql = _statement(connection.alias, count_use=client_secret_id is not None)
    # Inside a caller's transaction (JWT/OIDC/Kubernetes logins, whose signal receivers write with
    # the token) a failure dooms that transaction; no savepoint: the login stops there anyway.
    guard = transaction.atomic(savepoint=False) if connection.in_atomic_block else nullcontext()
    try:
        with guard, connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchone()
    except DatabaseError as exc:
        raise AuditWriteError(REFUSED) from exc
    return None if found is None else int(found[0])


def _orm_statements(
    *, row: IdentityAccessToken, event: AuditEvent, client_secret_id: int | None, used_at: datetime.datetime
) -> int | None:
    with transaction.atomic():
        if client_secret_id is not None:
            counted = ClientSecret.objects.filter(
                Q(num_uses_limit=0) | Q(num_uses__lt=F("num_uses_limit")), pk=client_secret_id, revoked_at__isnull=True
            ).update(num_uses=F("num_uses") + 1, last_used_at=used_at)
            if counted != 1:
                return None
        row.save(force_insert=True)
        event.metadata = {**event.metadata, TOKEN_ID_KEY: row.pk}
        try:
            event.save(force_insert=True)
        except DatabaseError as exc:
            raise AuditWriteError(REFUSED) from exc
    return int(row.pk)


def login_rows_write(
    *, row: IdentityAccessToken, event: AuditEvent, client_secret_id: int | None, used_at: datetime.datetime
) -> None:
    """Insert the unsaved token *row* and audit *event* (its metadata gains ``token_id``: the row's id),
    counting one use of *client_secret_id* at *used_at* when given. All or nothing.

    Raises ClientSecretUsedUp (nothing written) when that secret is revoked or at its use limit, and
    AuditWriteError (nothing written) when the database refuses the rows."""
    write = _one_statement if connection.vendor == "postgresql" else _orm_statements
    token_id = write(row=row, event=event, client_secret_id=client_secret_id, used_at=used_at)
    if token_id is None:
        raise ClientSecretUsedUp()
    if row.pk is None:
        row.pk = token_id
        row._state.adding = False
        row._state.db = connection.alias
        event.metadata = {**event.metadata, TOKEN_ID_KEY: token_id}


__all__ = ["ClientSecretUsedUp", "login_rows_write"]
