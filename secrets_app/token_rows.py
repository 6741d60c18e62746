"""The token check: one statement per request that returns the token's row, its owner and the
access epoch (access_cache/epoch.py) together. What the epoch keys is then read from the
per-process cache instead of the database."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection

from access_cache.epoch import EPOCH_SQL
from secrets_app.models import IdentityAccessToken, MachineIdentity, PersonalAccessToken
from secrets_app.rawsql import ModelColumns, is_postgresql

_sql: dict[str, str] = {}


def _epoch_expression() -> str:
    return EPOCH_SQL if is_postgresql() else "NULL"


class _Pair:
    """A token model and its owner, joined, plus the epoch."""

    def __init__(self, token: type[Any], owner: type[Any], fk: str, where: str) -> None:
        self.token = ModelColumns(token, "t")
        self.owner = ModelColumns(owner, "o")
        self.fk = fk
        self.where = where
        self.owner_attr = token._meta.get_field(fk).name

    def sql(self) -> str:
        key = f"{self.token.model.__name__}:{connection.vendor}"
        if key not in _sql:
            token_table = self.token.model._meta.db_table
            owner_table = self.owner.model._meta.db_table
            # Column and table names from the models' meta: no input reaches the text.
            select = f"SELECT {self.token.select_list}, {self.owner.select_list}, {_epoch_expression()} "
            _sql[key] = select + f"FROM {token_table} t JOIN {owner_table} o ON o.id = t.{self.fk} WHERE {self.where}"  # noqa: S608
        return _sql[key]

    def fetch(self, value: Any) -> Any | None:
        with connection.cursor() as cursor:
            cursor.execute(self.sql(), [value])
            row = cursor.fetchone()
        if row is None:
            return None
        token = self.token.build(row)
        owner = self.owner.build(row[self.token.width :])
        setattr(token, self.owner_attr, owner)
        token.access_epoch = row[-1]
        return token


_identity_tokens: _Pair | None = None
_personal_tokens: _Pair | None = None


def identity_token_row(token_id: int) -> IdentityAccessToken | None:
    """The access token row with its identity loaded and ``access_epoch`` set (None without an
    epoch), in one statement."""
    global _identity_tokens
    if _identity_tokens is None:
        _identity_tokens = _Pair(IdentityAccessToken, MachineIdentity, "identity_id", "t.id = %s")
    return _identity_tokens.fetch(token_id)


def personal_token_row(token_hash: str) -> PersonalAccessToken | None:
    """The unrevoked personal token with this hash, its user loaded and ``access_epoch`` set."""
    global _personal_tokens
    if _personal_tokens is None:
        _personal_tokens = _Pair(
            PersonalAccessToken, get_user_model(), "user_id", "t.token_hash = %s AND t.revoked_at IS NULL"
        )
    return _personal_tokens.fetch(token_hash)
