"""Leases of dynamic secrets over the native API, and the keeper ``run --lease`` uses.

A dynamic secret is named as ``NAME`` (in the folder ``--path``, default ``/``) or by its full
path, ``/backend/NAME``; ``NAME:PREFIX`` puts ``PREFIX`` before each credential name the provider
hands out (``DB_USERNAME`` → ``PG_DB_USERNAME``).

Renewal timing never compares the server's clock with ours: a lease's lifetime is ``expireAt −
createdAt`` (both the server's), counted from when its answer arrived here; each renewal adds what
the server added to ``expireAt``.
"""

from __future__ import annotations

import datetime
import sys
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from strongroom_cli import source
from strongroom_cli.errors import NOT_FOUND, SERVER, USAGE, CliError
from strongroom_cli.http import ApiError, Client

RENEW_MIN_MARGIN_SECONDS = 5.0  # renew at least this long before expiry (when the lease is long enough)
RETRY_SECONDS = 2.0  # after a renewal that failed for a reason that may pass (network, 5xx)
ACCESS_TOKEN_ENV = "SYSTEM_ACCESSTOKEN"  # noqa: S105 - the variable a step maps $(System.AccessToken) to
ADO_RUN_AUTO = "auto"


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def lease_path(project: str, lease_id: str, action: str = "") -> str:
    return source.project_path(project) + "leases/" + _quote(lease_id) + "/" + (f"{action}/" if action else "")


def split_name(name: str, default_path: str) -> tuple[str, str]:
    """(folder path, name) from ``NAME`` or ``/folder/NAME``."""
    name = name.strip()
    if "/" in name:
        folder, _, leaf = name.rstrip("/").rpartition("/")
        return folder or "/", leaf
    return default_path or "/", name


def find_secret(client: Client, project: str, *, environment: str, path: str, name: str) -> dict[str, Any]:
    """The dynamic secret called *name* in (environment, path); CliError (exit 4) when there is none."""
    answer = client.request(
        "GET", source.project_path(project) + "dynamic-secrets/", query={"environment": environment, "path": path}
    )
    found = [item for item in (answer or {}).get("dynamicSecrets", []) if item.get("name") == name.lower()]
    if not found:
        raise CliError(f"no dynamic secret {name!r} in {environment}:{path}", NOT_FOUND)
    return dict(found[0])


@dataclass(frozen=True)
class AdoRun:
    """``--ado-run``: the Azure DevOps run a lease is bound to, and the proof (``System.AccessToken``,
    read from the environment only: a flag would put it in the process list and shell history)."""

    run: str
    access_token: str = field(repr=False)

    @classmethod
    def from_flag(cls, value: str | None, environ: Mapping[str, str]) -> AdoRun | None:
        """None without the flag; CliError (exit 1) without ``SYSTEM_ACCESSTOKEN``, or for ``auto``
        outside a pipeline."""
        if value is None:
            return None
        token = environ.get(ACCESS_TOKEN_ENV, "").strip()
        if not token:
            raise CliError(
                f"--ado-run needs the pipeline's System.AccessToken in {ACCESS_TOKEN_ENV} "
                f"(map it in the step: env: {{ {ACCESS_TOKEN_ENV}: $(System.AccessToken) }})",
                USAGE,
            )
        run = value.strip()
        if run.lower() == ADO_RUN_AUTO:
            run = ado_run_from_pipeline(environ)
        elif run.count("/") < 2 or not run.rstrip("/").rpartition("/")[2].isdigit():
            raise CliError(f"--ado-run {value!r}: expected ORG/PROJECT/BUILD_ID or auto", USAGE)
        return cls(run=run, access_token=token)

    def fields(self) -> dict[str, str]:
        return {"adoRun": self.run, "adoAccessToken": self.access_token}


def ado_run_from_pipeline(environ: Mapping[str, str]) -> str:
    """``--ado-run auto``: ``$(System.CollectionUri)`` (the organization's URL, which the server
    matches against its Azure DevOps connection), the project (its id when the agent gives one: it
    survives renames and needs no escaping) and ``$(Build.BuildId)``, from the agent's environment."""
    collection = environ.get("SYSTEM_COLLECTIONURI", "").strip().rstrip("/")
    project = environ.get("SYSTEM_TEAMPROJECTID", "").strip() or environ.get("SYSTEM_TEAMPROJECT", "").strip()
    build = environ.get("BUILD_BUILDID", "").strip()
    missing = [
        name
        for name, present in (
            ("SYSTEM_COLLECTIONURI", collection),
            ("SYSTEM_TEAMPROJECT or SYSTEM_TEAMPROJECTID", project),
            ("BUILD_BUILDID", build.isdigit()),
        )
        if not present
    ]
    if missing:
        raise CliError(
            f"--ado-run auto works inside an Azure DevOps pipeline job; not set here: {', '.join(missing)}", USAGE
        )
    return f"{collection}/{project}/{build}"


def lease_create(
    client: Client, project: str, secret_id: str, ttl: str | None, ado_run: AdoRun | None = None
) -> dict[str, Any]:
    """``{lease, dynamicSecret, data}``. Sent with an Idempotency-Key (the same on each of the
    client's retries), so a retry after a lost answer takes no second lease: the server answers 409
    ``lease_already_created`` naming the first one, whose credentials are gone. That lease is
    revoked here and a new one taken, once, with a new key."""
    path = source.project_path(project) + "dynamic-secrets/" + _quote(secret_id) + "/leases/"
    body: dict[str, Any] = {"ttl": ttl} if ttl else {}
    if ado_run is not None:
        body.update(ado_run.fields())
    try:
        answer = client.request("POST", path, body=body)
    except ApiError as exc:
        orphan = str(exc.details.get("leaseId") or "")
        if exc.status != 409 or exc.error_code != "lease_already_created" or not orphan:
            raise
        try:
            lease_revoke(client, project, orphan)
        except CliError as revoke_error:
            sys.stderr.write(f"strongroom: warning: lease {orphan} was not revoked: {revoke_error.message}\n")
        answer = client.request("POST", path, body=body)
    if not isinstance(answer, dict) or not isinstance(answer.get("data"), dict):
        raise CliError("the server's answer has no lease: is --domain a Strongroom server?", SERVER)
    return answer


def lease_renew(client: Client, project: str, lease_id: str, ttl: str | None) -> dict[str, Any]:
    answer = client.request("POST", lease_path(project, lease_id, "renew"), body={"ttl": ttl} if ttl else {})
    return dict((answer or {}).get("lease") or {})


def lease_revoke(client: Client, project: str, lease_id: str, *, force: bool = False) -> dict[str, Any]:
    answer = client.request("POST", lease_path(project, lease_id, "force-revoke" if force else "revoke"), body={})
    return dict((answer or {}).get("lease") or {})


def moment(text: Any) -> datetime.datetime:
    return datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))


@dataclass
class LeaseSpec:
    path: str
    name: str
    prefix: str = ""

    @classmethod
    def parse(cls, text: str, default_path: str) -> LeaseSpec:
        name, _, prefix = text.partition(":")
        path, leaf = split_name(name, default_path)
        if not leaf:
            raise CliError(f"--lease {text!r}: expected NAME[:PREFIX]", USAGE)
        return cls(path=path, name=leaf, prefix=prefix)


@dataclass
class HeldLease:
    spec: LeaseSpec
    lease_id: str
    data: dict[str, str] = field(repr=False)
    lifetime: float  # seconds from issue to expiry, as the server counts
    deadline: float  # time.monotonic() at which it expires
    expire_at: datetime.datetime  # the server's expireAt (renewals add to it)
    renewable: bool = True
    next_try: float = 0.0

    def renew_at(self) -> float:
        """When to renew: a third of the lifetime before expiry (at least 5 s, at most half)."""
        margin = min(max(self.lifetime / 3, RENEW_MIN_MARGIN_SECONDS), self.lifetime / 2)
        return max(self.deadline - margin, self.next_try)

    def environment(self) -> dict[str, str]:
        return {self.spec.prefix + key: str(value) for key, value in self.data.items()}


class LeaseKeeper:
    """Takes the leases of ``run --lease``, renews each before it expires while the command runs,
    and revokes them all at the end (also after a failure half-way through taking them)."""

    def __init__(
        self,
        client: Client,
        project: str,
        environment: str,
        specs: list[LeaseSpec],
        ttl: str | None,
        ado_run: AdoRun | None = None,
    ):
        self.client = client
        self.project = project
        self.environment = environment
        self.specs = specs
        self.ttl = ttl
        self.ado_run = ado_run
        self.held: list[HeldLease] = []

    def take_all(self) -> dict[str, str]:
        """The variables of every lease (later ``--lease`` flags win on a name clash)."""
        variables: dict[str, str] = {}
        for spec in self.specs:
            secret = find_secret(
                self.client, self.project, environment=self.environment, path=spec.path, name=spec.name
            )
            answer = lease_create(self.client, self.project, str(secret["id"]), self.ttl, self.ado_run)
            arrived = time.monotonic()
            lease = answer["lease"]
            lifetime = max(1.0, (moment(lease["expireAt"]) - moment(lease["createdAt"])).total_seconds())
            held = HeldLease(
                spec, str(lease["id"]), dict(answer["data"]), lifetime, arrived + lifetime, moment(lease["expireAt"])
            )
            self.held.append(held)
            variables.update(held.environment())
        return variables

    def next_due(self) -> float | None:
        due = [held.renew_at() for held in self.held if held.renewable]
        return min(due) if due else None

    def renew_due(self, warn: Any) -> None:
        """Renew every lease whose time has come. A lease that reached its max TTL (or was ended on
        the server) is not tried again: it runs until it expires."""
        now = time.monotonic()
        for held in self.held:
            if not held.renewable or held.renew_at() > now:
                continue
            try:
                lease = lease_renew(self.client, self.project, held.lease_id, self.ttl)
            except ApiError as exc:
                if exc.status in (400, 404, 409):
                    held.renewable = False
                    left = max(0, int(held.deadline - time.monotonic()))
                    warn(f"lease {held.lease_id} cannot be renewed ({exc.message}); it expires in {left} s")
                else:
                    held.next_try = time.monotonic() + RETRY_SECONDS
                    warn(f"lease {held.lease_id}: renewal failed, trying again: {exc.message}")
                continue
            except CliError as exc:
                held.next_try = time.monotonic() + RETRY_SECONDS
                warn(f"lease {held.lease_id}: renewal failed, trying again: {exc.message}")
                continue
            try:
                renewed_to = moment(lease["expireAt"])
            except (KeyError, ValueError):
                renewed_to = held.expire_at
            added = (renewed_to - held.expire_at).total_seconds()
            if added <= 0:  # nothing gained: do not ask again and again
                held.renewable = False
            held.deadline += max(0.0, added)
            held.expire_at = renewed_to
            held.next_try = 0.0

    def revoke_all(self, warn: Any) -> None:
        """Revoke every held lease; a failure is a warning (the server retries it, or it expires)."""
        for held in self.held:
            try:
                lease = lease_revoke(self.client, self.project, held.lease_id)
            except CliError as exc:
                warn(f"lease {held.lease_id} was not revoked: {exc.message}; it ends at its expiry")
                continue
            if lease.get("status") not in (None, "revoked"):
                reason = lease.get("lastError") or lease.get("status")
                warn(f"lease {held.lease_id} is not revoked yet ({reason}); the server keeps trying")
        self.held = []
