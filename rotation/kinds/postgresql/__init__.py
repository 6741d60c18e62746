"""PostgreSQL credentials: ``ALTER ROLE … WITH PASSWORD`` over the root connection, then a login
as the role. The root role needs CREATEROLE and (PostgreSQL 16+) ADMIN on the rotated roles."""

from __future__ import annotations

from rotation.kinds.base import SqlCredentialsKind


class PostgreSQLCredentials(SqlCredentialsKind):
    kind = "postgresql"
    label = "PostgreSQL credentials"
    provider_kind = "postgresql"
    statement = "ALTER ROLE \"{{username}}\" WITH PASSWORD '{{password}}';"
