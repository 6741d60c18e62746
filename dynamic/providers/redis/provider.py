"""Redis: an ACL user per lease (Redis 6 or later).

Infisical's ``redis`` inputs: ``host``, ``port``, ``username`` (the root user; empty means Redis's
``default`` user), ``password``, ``ca`` (a CA in PEM: TLS, verified against the host name), plus
``tls`` (TLS with the system CAs, when there is no private CA). Statements are Redis commands, one
per line or separated by ``;``; each command is split on whitespace and every word sent as one
argument, so a rendered value (which may hold no whitespace) can never become a second argument or
a second command. Data keys ``DB_USERNAME`` / ``DB_PASSWORD``, as Infisical's.

Only ``ACL SETUSER {{username}} …`` and ``ACL DELUSER {{username}}`` may be run: a statement
cannot touch another user, least of all ``default`` or the root user, and a lease whose name is one
of those is refused before anything runs.

Redis has no "create if absent": ``ACL SETUSER`` on an existing user changes it. So creation first
asks ``ACL GETUSER`` and refuses a name that exists (NothingCreated: it is someone else's, and its
revocation must not run). A user made between that check and the SETUSER (a random name chosen by
someone else in the same millisecond) is the remaining window. ACL users have no expiry: there is no
default renewal, the lease's revocation is the only end. ``ACL DELUSER`` also closes the user's
connections, and of a user that does not exist it deletes nothing: revocation is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from dynamic.providers.base import (
    DynamicProvider,
    NothingCreated,
    PluginField,
    ProviderError,
    Target,
    UnrecoverableProviderError,
)
from dynamic.providers.redis.resp import RespClient, RespConnectionError, RespError
from dynamic.providers.templates import REDIS, TemplateError

# Infisical's default is "… ~* &* +@all"; ours drops @dangerous (ACL, CONFIG, FLUSHALL, DEBUG, …),
# so a leased user cannot change ACLs — its own, ``default``'s or the root's — or the server's config.
CREATION = ("ACL SETUSER {{username}} on >{{password}} ~* &* +@all -@dangerous",)
REVOCATION = ("ACL DELUSER {{username}}",)
DEFAULT_USER = "default"
USERNAME_PLACEHOLDER = "{{username}}"
# Error codes that mean the root credentials are refused: retrying cannot help.
REFUSED = frozenset({"WRONGPASS", "NOAUTH", "NOPERM"})


def command_words(statement: str) -> list[str]:
    """The arguments of one rendered statement (split on whitespace; values never contain any)."""
    return statement.split()


def _check_shape(words: Sequence[str], username: str, *, where: str) -> None:
    """Only ``ACL SETUSER <username> …`` and ``ACL DELUSER <username>``; TemplateError otherwise."""
    if len(words) < 3 or words[0].upper() != "ACL" or words[1].upper() not in ("SETUSER", "DELUSER"):
        raise TemplateError(f"{where}: only ACL SETUSER {{{{username}}}} … and ACL DELUSER {{{{username}}}} are run")
    if words[2] != username or (words[1].upper() == "DELUSER" and len(words) != 3):
        raise TemplateError(f"{where}: the command may name no user but {{{{username}}}}")


def _safe_error(what: str, exc: BaseException) -> ProviderError:
    if isinstance(exc, RespError):
        error = ProviderError(f"{what}: Redis error {exc.code}")
        if exc.code in REFUSED:
            error.retryable = False
        return error
    return ProviderError(f"{what}: Redis connection failed ({exc})")


class RedisProvider(DynamicProvider):
    kind = "redis"
    infisical_type = "redis"
    label = "Redis"
    description = "An ACL user per lease (Redis 6+), made with ACL SETUSER and deleted at expiry."
    fields = (
        PluginField("host", "Host", placeholder="redis.internal.example.com", max_length=253),
        PluginField("port", "Port", input="int", required=False, placeholder="6379"),
        PluginField(
            "username",
            "Root user",
            required=False,
            placeholder=DEFAULT_USER,
            help="An ACL user allowed ACL SETUSER / DELUSER / GETUSER; empty: the default user.",
            max_length=200,
        ),
        PluginField("password", "Root password", secret=True, input="password", required=False, max_length=500),
        PluginField("tls", "TLS", input="bool", required=False, help="Verified against the host name."),
        PluginField(
            "ca",
            "CA certificate (PEM)",
            input="textarea",
            required=False,
            help="The CA that signs the server's certificate, if not a public one. Implies TLS.",
            max_length=20000,
        ),
    )
    dialect = REDIS
    statement_variables = {
        "creation": frozenset({"username", "password", "expiration"}),
        "renewal": frozenset({"username", "expiration"}),
        "revocation": frozenset({"username"}),
    }
    default_statements = {"creation": CREATION, "renewal": (), "revocation": REVOCATION}
    default_port = 6379

    def check_statements(self, kind: str, statements: Sequence[str]) -> None:
        for index, statement in enumerate(statements):
            _check_shape(command_words(statement), USERNAME_PLACEHOLDER, where=f"statement {index + 1}")

    def statement_values(self, config: Mapping[str, Any], **values: str) -> dict[str, str]:
        return dict(values)

    def expiration_text(self, expire_at: Any) -> str:
        return str(expire_at.strftime("%Y-%m-%dT%H:%M:%SZ"))  # one word

    def _root_user(self, config: Mapping[str, Any]) -> str:
        return str(config.get("username") or DEFAULT_USER)

    @contextmanager
    def _connect(self, target: Target) -> Iterator[RespClient]:
        config = target.config
        ca = str(config.get("ca") or "") or None
        try:
            client = RespClient(
                address=target.address or str(config["host"]),  # the address the target check allowed
                port=int(config.get("port") or self.default_port),
                server_hostname=str(config["host"]),
                tls=bool(config.get("tls")) or ca is not None,
                ca=ca,
            )
        except RespConnectionError as exc:
            raise _safe_error("connect", exc) from None
        with client:
            password = target.credentials.get("password", "")
            try:
                if config.get("username"):
                    client.call("AUTH", str(config["username"]), password)
                elif password:
                    client.call("AUTH", password)
            except (RespError, RespConnectionError) as exc:
                raise _safe_error("AUTH", exc) from None
            yield client

    def _run(self, client: RespClient, statements: Sequence[str], *, username: str) -> None:
        for index, statement in enumerate(statements):
            words = command_words(statement)
            try:
                _check_shape(words, username, where=f"statement {index + 1}")
            except TemplateError as exc:
                raise UnrecoverableProviderError(str(exc)) from None
            try:
                client.call(*words)
            except (RespError, RespConnectionError) as exc:
                raise _safe_error(f"statement {index + 1}", exc) from None

    def _refuse_reserved(self, target: Target, username: str) -> None:
        if username in (DEFAULT_USER, self._root_user(target.config)):
            raise NothingCreated(_taken(username))

    def test(self, target: Target) -> None:
        with self._connect(target) as client:
            try:
                client.call("PING")
            except (RespError, RespConnectionError) as exc:
                raise _safe_error("PING", exc) from None

    def create_user(
        self, target: Target, *, username: str, statements: Sequence[str], undo: Sequence[str] = ()
    ) -> None:
        """Refuse a name that exists (NothingCreated); otherwise run the statements and, if one
        fails, the revocation statements (ACL changes are not transactional) before raising."""
        self._refuse_reserved(target, username)
        with self._connect(target) as client:
            try:
                existing = client.call("ACL", "GETUSER", username)
            except (RespError, RespConnectionError) as exc:
                raise _safe_error("ACL GETUSER", exc) from None
            if existing is not None:
                raise NothingCreated(_taken(username))
            try:
                self._run(client, statements, username=username)
            except ProviderError as error:
                try:
                    self._run(client, undo, username=username)
                except ProviderError:
                    raise ProviderError(f"{error}; undoing the partial creation failed too") from None
                raise

    def renew_user(self, target: Target, *, username: str, statements: Sequence[str]) -> None:
        if not statements:
            return
        self._refuse_reserved(target, username)
        with self._connect(target) as client:
            self._run(client, statements, username=username)

    def revoke_user(self, target: Target, *, username: str, statements: Sequence[str]) -> str | None:
        """Idempotent: a user that no longer exists is revoked. Never deletes ``default`` or the
        root user (a lease can only hold those names if creation was refused)."""
        if username in (DEFAULT_USER, self._root_user(target.config)):
            raise UnrecoverableProviderError("refused: the lease names the default or the root user")
        with self._connect(target) as client:
            self._run(client, statements, username=username)
        return None


def _taken(username: str) -> str:
    return (
        f"a Redis user named {username} already exists and is not ours: nothing was created or changed;"
        " use a username template that makes unique names (keep {{random N}} in it)"
    )
