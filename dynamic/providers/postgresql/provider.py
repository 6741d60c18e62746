"""PostgreSQL: a login role per lease.

Creation runs in one transaction (PostgreSQL DDL is transactional: a failure leaves nothing).
The default revocation does better than both Vault and Infisical (lesson 6): it ends the role's
sessions, hands what the role owns to the connecting (root) role, drops its privileges and the
role itself — so a role that created a table can still be dropped — and a role that does not exist
counts as revoked, so running it twice is harmless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dynamic.providers.base import DynamicProvider, NothingCreated, PluginField, ProviderError, Target
from dynamic.providers.templates import POSTGRESQL

CONNECT_TIMEOUT_SECONDS = 10
# Concurrent GRANT/REVOKE on the same tables update the same catalog rows and fail with "tuple
# concurrently updated": lease DDL takes this transaction-level advisory lock on the target database
# first, so creations and revocations there run one at a time (each takes milliseconds).
DDL_LOCK_KEY = 0x5354524F4E47  # "STRONG"
UNDEFINED_OBJECT = "42704"  # "role … does not exist"
DUPLICATE_OBJECT = "42710"  # "role … already exists"

CREATION = (
    "CREATE ROLE \"{{username}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
    # The root role becomes a member, so it may later end the role's sessions, REASSIGN OWNED and
    # DROP OWNED without being a superuser (PostgreSQL requires the privileges of the role for those).
    'GRANT "{{username}}" TO CURRENT_USER;',
    'GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO "{{username}}";',
)
RENEWAL = ("ALTER ROLE \"{{username}}\" VALID UNTIL '{{expiration}}';",)
REVOCATION = (
    # Sessions of the role end with it (needs pg_signal_backend or superuser; skipped without it).
    "DO $$ BEGIN PERFORM pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE usename = '{{username}}' AND pid <> pg_backend_pid(); "
    "EXCEPTION WHEN insufficient_privilege THEN NULL; END $$;",
    'REASSIGN OWNED BY "{{username}}" TO CURRENT_USER;',
    'DROP OWNED BY "{{username}}";',
    'DROP ROLE IF EXISTS "{{username}}";',
)


def _safe_error(exc: BaseException) -> str:
    """The SQLSTATE and class of a driver error: messages can quote statements (passwords)."""
    sqlstate = getattr(exc, "sqlstate", None)
    name = type(exc).__name__
    if sqlstate:
        return f"PostgreSQL error {sqlstate} ({name})"
    return f"PostgreSQL connection failed ({name})"


class PostgreSQLProvider(DynamicProvider):
    kind = "postgresql"
    infisical_type = "sql-database"
    infisical_client = "postgres"
    label = "PostgreSQL"
    description = "A login role per lease, created with the root credentials and dropped at expiry."
    fields = (
        PluginField("host", "Host", placeholder="db.internal.example.com"),
        PluginField("port", "Port", input="int", required=False, placeholder="5432"),
        PluginField("database", "Database", placeholder="app"),
        PluginField("username", "Root user", help="A role that may create roles and grant what leases get."),
        PluginField("password", "Root password", secret=True, input="password"),
        PluginField(
            "sslmode",
            "TLS",
            input="choice",
            required=False,
            choices=(
                ("prefer", "prefer"),
                ("require", "require"),
                ("verify-full", "verify-full"),
                ("disable", "disable"),
            ),
        ),
    )
    dialect = POSTGRESQL
    statement_variables = {
        "creation": frozenset({"username", "password", "expiration", "database"}),
        "renewal": frozenset({"username", "expiration", "database"}),
        "revocation": frozenset({"username", "database"}),
    }
    default_statements = {"creation": CREATION, "renewal": RENEWAL, "revocation": REVOCATION}
    username_max_length = 63
    default_port = 5432

    def _connect(self, target: Target) -> Any:
        import psycopg

        config = target.config
        try:
            return psycopg.connect(
                host=str(config["host"]),
                hostaddr=target.address or None,  # the address the target check allowed
                port=int(config.get("port") or self.default_port),
                dbname=str(config["database"]),
                user=str(config["username"]),
                password=target.credentials.get("password", ""),
                sslmode=str(config.get("sslmode") or "prefer"),
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name="strongroom-dynamic-secrets",
                autocommit=True,  # each transaction is explicit (conn.transaction())
            )
        except psycopg.Error as exc:
            raise ProviderError(_safe_error(exc)) from None

    def test(self, target: Target) -> None:
        import psycopg

        with self._connect(target) as conn:
            try:
                conn.execute("SELECT 1")
            except psycopg.Error as exc:
                raise ProviderError(_safe_error(exc)) from None

    def _run(self, target: Target, statements: Sequence[str]) -> None:
        import psycopg

        with self._connect(target) as conn:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
                    for statement in statements:
                        conn.execute(statement.encode())  # bytes: psycopg must not look for %s in it
            except psycopg.Error as exc:
                raise ProviderError(_safe_error(exc)) from None

    def create_user(
        self, target: Target, *, username: str, statements: Sequence[str], undo: Sequence[str] = ()
    ) -> None:
        """Run the creation statements in one transaction (a failure leaves nothing to undo). A role
        that already has the name is someone else's: NothingCreated, so nobody revokes it by name."""
        import psycopg

        with self._connect(target) as conn:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
                    if _role_exists(conn, username):
                        raise NothingCreated(_taken(username))
                    for statement in statements:
                        conn.execute(statement.encode())  # bytes: psycopg must not look for %s in it
            except psycopg.Error as exc:
                if getattr(exc, "sqlstate", None) == DUPLICATE_OBJECT:
                    raise NothingCreated(_taken(username)) from None
                raise ProviderError(_safe_error(exc)) from None

    def renew_user(self, target: Target, *, username: str, statements: Sequence[str]) -> None:
        if statements:
            self._run(target, statements)

    def revoke_user(self, target: Target, *, username: str, statements: Sequence[str]) -> None:
        import psycopg

        with self._connect(target) as conn:
            try:
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,)).fetchone() is None:
                    return  # already gone: revoked
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
                    for statement in statements:
                        conn.execute(statement.encode())
            except psycopg.Error as exc:
                if getattr(exc, "sqlstate", None) == UNDEFINED_OBJECT and not _role_exists(conn, username):
                    return  # dropped by someone else meanwhile
                raise ProviderError(_safe_error(exc)) from None

    def expiration_text(self, expire_at: Any) -> str:
        return str(expire_at.strftime("%Y-%m-%d %H:%M:%S+00"))

    def statement_values(self, config: Mapping[str, Any], **values: str) -> dict[str, str]:
        return {"database": str(config.get("database") or ""), **values}


def _taken(username: str) -> str:
    return (
        f"a role named {username} already exists and is not ours: nothing was created or changed;"
        " use a username template that makes unique names (keep {{random N}} in it)"
    )


def _role_exists(conn: Any, username: str) -> bool:
    try:
        return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,)).fetchone() is not None
    except Exception:
        return True
