"""MySQL / MariaDB credentials: ``ALTER USER 'name'@'%' IDENTIFIED BY …`` over the root
connection, then a login as the user. The root user needs CREATE USER (or UPDATE on mysql.*)."""

from __future__ import annotations

from rotation.kinds.base import SqlCredentialsKind


class MySQLCredentials(SqlCredentialsKind):
    kind = "mysql"
    infisical_type = "mysql-credentials"
    label = "MySQL / MariaDB credentials"
    provider_kind = "mysql"
    statement = "ALTER USER '{{username}}'@'%' IDENTIFIED BY '{{password}}';"
    root_user_help = "Needs the CREATE USER privilege (it allows ALTER USER of the rotated users)."
