"""PostgreSQL credentials: ``ALTER ROLE … WITH PASSWORD`` over the root connection, then a login
as the role. The root role needs CREATEROLE and (PostgreSQL 16+) ADMIN on the rotated roles."""

from __future__ import annotations

import secrets

from rotation.kinds.base import ProviderError, SqlCredentialsKind, Target


class PostgreSQLCredentials(SqlCredentialsKind):
    kind = "postgresql"
    infisical_type = "postgres-credentials"
    label = "PostgreSQL credentials"
    provider_kind = "postgresql"
    statement = "ALTER ROLE \"{{username}}\" WITH PASSWORD '{{password}}';"
    root_user_help = "Needs CREATEROLE and, on PostgreSQL 16+, ADMIN OPTION on the rotated roles."

    def accepts_any_password(self, target: Target, *, username: str) -> bool:
        """One login with a random wrong password (the server logs one failed login per run).
        PostgreSQL only: it has no lockout after failed logins, while MySQL's
        FAILED_LOGIN_ATTEMPTS could lock the very user this checks."""
        try:
            self.verify_login(target, username=username, password=secrets.token_urlsafe(24))
        except ProviderError:
            return False
        return True
