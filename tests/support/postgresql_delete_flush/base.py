"""The project's PostgreSQL backend (config/postgresql) for the test run, with one change: the
flush that ``transactional_db`` (Django's ``TransactionTestCase``) runs after every test empties the
tables with ``DELETE`` instead of one ``TRUNCATE`` of all of them, and keeps the content types
and permissions (the flush's post_migrate signal would only create them again, the same rows).

TRUNCATE gives each of the ~100 tables (and its indexes and TOAST table) a new file and syncs them
at commit: about 1-5 s per test, against well under a second for deleting the few rows a test
leaves behind; re-creating ~100 content types and ~400 permissions cost another 0.3-0.5 s. The outcome is the same: every table empty, sequences not reset (Django's test
flush passes ``reset_sequences=False``; TRUNCATE without ``RESTART IDENTITY`` did not reset them
either). Foreign keys are checked at commit (Django creates them ``DEFERRABLE INITIALLY DEFERRED``),
so the order of the DELETEs does not matter. The audit tables' append-only triggers stand aside as
before: the flush command runs inside ``audit_maintenance`` (audit/management/commands/flush.py).

A flush that resets sequences or cascades (``manage.py flush`` with its defaults, as the audit
tests call it) keeps Django's TRUNCATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations

from config.postgresql.base import DatabaseWrapper as ProjectDatabaseWrapper

# Written by post_migrate from the models alone; kept, so the signal after the flush finds them all.
KEPT_TABLES = frozenset({"django_content_type", "auth_permission"})


class DatabaseOperations(PostgresOperations):
    def sql_flush(
        self, style: Any, tables: Sequence[str], *, reset_sequences: bool = False, allow_cascade: bool = False
    ) -> list[str]:
        if not tables or reset_sequences or allow_cascade:
            return super().sql_flush(style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return ["SET CONSTRAINTS ALL DEFERRED"] + [
            f"{style.SQL_KEYWORD('DELETE')} {style.SQL_KEYWORD('FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
            if table not in KEPT_TABLES
        ]


class DatabaseWrapper(ProjectDatabaseWrapper):
    ops_class = DatabaseOperations
