"""MySQL and MariaDB: a user ``'name'@'%'`` per lease.

MySQL's ``CREATE USER`` / ``GRANT`` / ``DROP USER`` commit implicitly, so a transaction cannot undo
a creation that failed half-way: on any creation error the provider runs the (rendered) revocation
statements before it raises, leaving no user behind. The defaults quote names the way both MySQL
and MariaDB read them whatever ``sql_mode`` says (user in single quotes, database in backticks):
Infisical's double-quoted defaults break under MariaDB's default mode. MySQL has no expiry on a
user, so there is no renewal statement: the lease's revocation is the only end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dynamic.providers.base import DynamicProvider, NothingCreated, PluginField, ProviderError, Target
from dynamic.providers.templates import MYSQL

CONNECT_TIMEOUT_SECONDS = 10

CREATION = (
    "CREATE USER '{{username}}'@'%' IDENTIFIED BY '{{password}}';",
    "GRANT ALL PRIVILEGES ON `{{database}}`.* TO '{{username}}'@'%';",
)
REVOCATION = ("DROP USER IF EXISTS '{{username}}'@'%';",)


def _safe_error(exc: BaseException) -> str:
    """The server's error number and the class: messages can quote statements (passwords)."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    name = type(exc).__name__
    return f"MySQL error {code} ({name})" if code else f"MySQL connection failed ({name})"


class MySQLProvider(DynamicProvider):
    kind = "mysql"
    infisical_type = "sql-database"
    infisical_client = "mysql2"
    label = "MySQL / MariaDB"
    description = "A user per lease ('name'@'%'), created with the root credentials and dropped at expiry."
    fields = (
        PluginField("host", "Host", placeholder="db.internal.example.com"),
        PluginField("port", "Port", input="int", required=False, placeholder="3306"),
        PluginField("database", "Database", placeholder="app"),
        PluginField("username", "Root user", help="A user with CREATE USER and the privileges leases get."),
        PluginField("password", "Root password", secret=True, input="password", required=False),
        PluginField("tls", "Require TLS", input="bool", required=False),
    )
    dialect = MYSQL
    statement_variables = {
        "creation": frozenset({"username", "password", "database"}),
        "renewal": frozenset({"username", "database"}),
        "revocation": frozenset({"username", "database"}),
    }
    default_statements = {"creation": CREATION, "renewal": (), "revocation": REVOCATION}
    username_max_length = 32  # MySQL 5.7's limit (MariaDB allows 80)
    default_port = 3306

    def _connect(self, target: Target) -> Any:
        import pymysql

        config = target.config
        try:
            return pymysql.connect(
                host=target.address or str(config["host"]),  # the address the target check allowed
                port=int(config.get("port") or self.default_port),
                user=str(config["username"]),
                password=target.credentials.get("password", ""),
                database=str(config["database"]),
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                read_timeout=30,
                write_timeout=30,
                autocommit=True,
                ssl={"check_hostname": False} if config.get("tls") else None,
            )
        except pymysql.MySQLError as exc:
            raise ProviderError(_safe_error(exc)) from None

    def test(self, target: Target) -> None:
        import pymysql

        conn = self._connect(target)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
        except pymysql.MySQLError as exc:
            raise ProviderError(_safe_error(exc)) from None
        finally:
            conn.close()

    def _run(self, conn: Any, statements: Sequence[str]) -> None:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)  # no args: PyMySQL does not interpolate

    def create_user(
        self, target: Target, *, username: str, statements: Sequence[str], undo: Sequence[str] = ()
    ) -> None:
        import pymysql

        conn = self._connect(target)
        try:
            if _account_exists(conn, username):
                raise NothingCreated(_taken(username))
            for index, statement in enumerate(statements):
                try:
                    self._run(conn, [statement])
                except pymysql.MySQLError as exc:
                    if index == 0 and exc.args and exc.args[0] == ER_CANNOT_USER:
                        # CREATE USER refused: the account is someone else's; never run the undo.
                        raise NothingCreated(_taken(username)) from None
                    raise
        except pymysql.MySQLError as exc:
            error = ProviderError(_safe_error(exc))
            try:  # DDL committed implicitly: drop what the statements before the failure made
                self._run(conn, undo)
            except pymysql.MySQLError:
                error = ProviderError(f"{error}; undoing the partial creation failed too")
            raise error from None
        finally:
            conn.close()

    def renew_user(self, target: Target, *, username: str, statements: Sequence[str]) -> None:
        if not statements:
            return
        import pymysql

        conn = self._connect(target)
        try:
            self._run(conn, statements)
        except pymysql.MySQLError as exc:
            raise ProviderError(_safe_error(exc)) from None
        finally:
            conn.close()

    def revoke_user(self, target: Target, *, username: str, statements: Sequence[str]) -> None:
        import pymysql

        conn = self._connect(target)
        try:
            with conn.cursor() as cursor:
                # DROP USER leaves open sessions running: end them first (best effort).
                cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (username,))
                for (session_id,) in cursor.fetchall():
                    try:
                        cursor.execute("KILL %s", (int(session_id),))
                    except pymysql.MySQLError:
                        pass
            self._run(conn, statements)
        except pymysql.MySQLError as exc:
            raise ProviderError(_safe_error(exc)) from None
        finally:
            conn.close()


ER_CANNOT_USER = 1396  # "Operation CREATE USER failed for …": the account exists
ER_TABLEACCESS_DENIED = 1142


def _taken(username: str) -> str:
    return (
        f"an account named {username} already exists and is not ours: nothing was created or changed;"
        " use a username template that makes unique names (keep {{random N}} in it)"
    )


def _account_exists(conn: Any, username: str) -> bool:
    """Whether an account of that name exists (False when the root may not read mysql.user: then
    CREATE USER's own refusal is the check)."""
    import pymysql

    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM mysql.user WHERE User = %s", (username,))
            return cursor.fetchone() is not None
    except pymysql.MySQLError as exc:
        if exc.args and exc.args[0] == ER_TABLEACCESS_DENIED:
            return False
        raise
