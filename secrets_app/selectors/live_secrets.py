"""The one statement behind every secret read: a folder's live secrets (shared, and the reader's
personal ones) with their tag slugs and the ciphertexts of their current versions, written once per
process and vendor, mapped to slotted objects instead of model instances (docs/performance.md)."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection

from secrets_app.models import Folder, Secret, SecretType, SecretVersion, Tag
from secrets_app.rawsql import ModelColumns


class LiveSecret:
    """One live secret as the read path needs it: its columns, its tag slugs and the ciphertext of
    its current version, from one statement (``live_secrets``). Quacks like ``Secret`` for
    ``decrypt_field`` and integrity reports; never holds a plaintext."""

    __slots__ = (
        "pk",
        "id",
        "key",
        "type",
        "version",
        "owner_label",
        "purpose",
        "expires_at",
        "created_at",
        "updated_at",
        "quarantined_at",
        "folder_id",
        "project_id",
        "environment_id",
        "folder",
        "environment",
        "tag_slugs",
        "value_ciphertext",
        "comment_ciphertext",
    )

    pk: int
    id: int
    key: str
    type: str
    version: int
    owner_label: str
    purpose: str
    expires_at: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    quarantined_at: datetime.datetime | None  # governance: a quarantined secret is never delivered
    folder_id: int
    project_id: int
    environment_id: int
    folder: Folder
    environment: Any
    tag_slugs: list[str]
    value_ciphertext: bytes | None
    comment_ciphertext: bytes | None

    def __repr__(self) -> str:
        return f"<LiveSecret {self.pk} {self.key} v{self.version}>"


class _LiveSecretsQuery:
    """The fixed statement behind ``live_secrets`` (built once per process and vendor)."""

    def __init__(self) -> None:
        self.columns = ModelColumns(Secret, "s", only=_LIVE_COLUMNS)
        self._attnames = self.columns.attnames
        self._sql: dict[tuple[str, int, bool, bool], str] = {}

    def sql(self, folder_count: int, by_key: bool, with_personal: bool) -> str:
        vendor = connection.vendor
        cache_key = (vendor, folder_count, by_key, with_personal)
        if cache_key not in self._sql:
            through = Secret.tags.through._meta.db_table
            tag_table = Tag._meta.db_table
            tag_rows = f"FROM {through} st JOIN {tag_table} t ON t.id = st.tag_id WHERE st.secret_id = s.id"
            if vendor == "postgresql":
                tags = f"ARRAY(SELECT t.slug {tag_rows} ORDER BY t.slug)"
            else:
                tags = f"(SELECT group_concat(t.slug, ',') {tag_rows})"
            placeholders = ", ".join(["%s"] * folder_count)
            where = f"s.folder_id IN ({placeholders}) AND s.deleted_at IS NULL"
            if by_key:
                where += " AND s.key = %s"
            where += " AND (s.type = %s OR (s.type = %s AND s.owner_id = %s))" if with_personal else " AND s.type = %s"
            self._sql[cache_key] = (
                f"SELECT {self.columns.select_list}, v.value_ciphertext, v.comment_ciphertext, {tags} "  # noqa: S608
                f"FROM {Secret._meta.db_table} s LEFT JOIN {SecretVersion._meta.db_table} v "
                f"ON v.secret_id = s.id AND v.version = s.version WHERE {where}"
            )
        return self._sql[cache_key]

    def rows(self, folders: list[Folder], principal_user_id: int | None, key: str | None) -> list[LiveSecret]:
        by_id = {folder.pk: folder for folder in folders}
        params: list[Any] = list(by_id)
        if key is not None:
            params.append(key)
        params.append(SecretType.SHARED)
        if principal_user_id is not None:
            params += [SecretType.PERSONAL, principal_user_id]
        with connection.cursor() as cursor:
            cursor.execute(self.sql(len(by_id), key is not None, principal_user_id is not None), params)
            fetched = cursor.fetchall()
        width = self.columns.width
        found = []
        for row in fetched:
            secret = LiveSecret()
            for attname, value in zip(self._attnames, self.columns.convert(row), strict=True):
                setattr(secret, attname, value)
            secret.pk = secret.id
            secret.value_ciphertext = row[width]
            secret.comment_ciphertext = row[width + 1]
            slugs = row[width + 2]
            secret.tag_slugs = sorted(slugs.split(",")) if isinstance(slugs, str) else list(slugs or [])
            secret.folder = by_id[secret.folder_id]
            secret.environment = secret.folder.environment
            found.append(secret)
        found.sort(key=lambda item: (item.folder.path, item.key))
        return found


# The Secret columns the statement selects: LiveSecret's own fields, less what the statement adds.
_LIVE_COLUMNS = frozenset(LiveSecret.__slots__) - {
    "pk",
    "folder",
    "environment",
    "tag_slugs",
    "value_ciphertext",
    "comment_ciphertext",
}
_query: _LiveSecretsQuery | None = None


def live_secrets(folders: list[Folder], principal_user_id: int | None, key: str | None = None) -> list[LiveSecret]:
    """Live secrets of *folders* (shared, and the reader's personal ones) with their tag slugs and
    current version's ciphertext, in one statement with no ORM compilation; each wired to its
    folder and environment from *folders* (whose environments are loaded)."""
    global _query
    if not folders:
        return []
    if _query is None:
        _query = _LiveSecretsQuery()
    return _query.rows(folders, principal_user_id, key)
