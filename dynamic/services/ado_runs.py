"""Run-scoped leases: binding a lease to the Azure DevOps run that took it, and ending the lease
when that run ends (docs/dynamic-secrets.md, "Run-scoped leases").

Binding — two ways, each with proof; never from something the caller merely says:

- **Pipeline OIDC token.** A machine identity that logged in (JWT or OIDC auth) with a pipeline
  token issued by Azure DevOps itself — ``iss`` ``https://vstoken.dev.azure.com/{org guid}`` pinned
  by the auth method's bound issuer, ``sub`` ``p://org/project/pipeline``, claims ``org_id``,
  ``prj_id`` and ``run_id`` (ado-governance.md §3.6) — gets an :class:`AdoRunToken` row next to its
  access token (``record_run_claims``, a receiver of ``machine_login_verified``). Every lease
  taken with that access token is bound to the run. Entra-issued tokens (the AzureCLI@2
  ``$idToken``) and service-connection tokens (``sc://``) name no run and never bind.
- **System.AccessToken.** ``adoRun`` = ``ORG/PROJECT/BUILD_ID`` (ORG an organization name or URL)
  together with the pipeline's ``System.AccessToken``: we ask ``GET {org}/{project}/_apis/build/
  builds/{id}`` with that token, against the organization URL of one of the Strongroom
  organization's Azure DevOps connections (the token is never sent anywhere else). The build must
  exist and be ``inProgress``. The token is used for that one request and dropped: never stored,
  logged, audited or put in an error.

Ending: the service hook (``dynamic.services.ado_hooks``) and the beat poller below mark every
live lease of a completed run ``revoke_requested_at`` and revoke it through the revocation engine;
the lease's TTL stays the last fallback.
"""

from __future__ import annotations

import datetime
import logging
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import SYSTEM_ACTOR, AuditActor
from dynamic.models import AdoRunToken, Lease, LeaseStatus, RunProof
from dynamic.services.revocation import dispatch, lease_audit, lease_revoke_execute
from secrets_app.errors import DomainError, ValidationFailed

logger = logging.getLogger("strongroom.dynamic")

# The original Azure DevOps issuer (wire-protocols.md §3 (a)); legacy organizations use vstoken.azure.com.
ADO_ISSUER = re.compile(r"^https://vstoken\.(?:dev\.)?azure\.com/[0-9a-fA-F-]{36}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PROJECT = re.compile(r"^[^/\\?#%]{1,64}$")
RUN_FORMAT = "must be ORG/PROJECT/BUILD_ID (ORG: the organization name or URL, e.g. acme/web/1234)"
IN_PROGRESS = "inProgress"
COMPLETED = "completed"
LIVE_FOR_RUN = (LeaseStatus.ACTIVE, LeaseStatus.FAILED)


class AdoUnavailable(DomainError):
    """Azure DevOps could not be asked (unreachable, refused host, 5xx): 502, nothing issued."""

    status = 502
    code = "bad_gateway"


@dataclass(frozen=True)
class RunBinding:
    """The proven run a new lease is bound to."""

    org_url: str
    account_id: str
    project_id: str
    build_id: int
    state: str
    proof: str
    connection_id: int | None

    def lease_fields(self) -> dict[str, Any]:
        return {
            "ado_org_url": self.org_url,
            "ado_account_id": self.account_id,
            "ado_project_id": self.project_id,
            "ado_build_id": self.build_id,
            "ado_run_state": self.state,
            "ado_bound_by": self.proof,
            "ado_connection_id": self.connection_id,
            "ado_checked_at": timezone.now(),
        }

    def audit_fields(self) -> dict[str, Any]:
        return {
            "ado_run": {
                "organization": self.org_url,
                "project_id": self.project_id,
                "build_id": self.build_id,
                "proof": self.proof,
            }
        }


# --- connections -----------------------------------------------------------------------------------


def org_name_of(url: str) -> str:
    """``https://dev.azure.com/acme`` → ``acme``; ``https://acme.visualstudio.com`` → ``acme``."""
    parts = urlsplit(url.strip().rstrip("/"))
    segments = [segment for segment in parts.path.split("/") if segment]
    if segments:
        return segments[-1].lower()
    return (parts.hostname or "").split(".")[0].lower()


def ado_connections(organization_id: int) -> list[Any]:
    from syncs.models import AppConnection, ConnectionKind

    return list(AppConnection.objects.filter(organization_id=organization_id, kind=ConnectionKind.AZURE_DEVOPS))


def connection_for_org(organization_id: int, org: str) -> Any | None:
    """The organization's Azure DevOps connection whose URL names *org* (a name or a URL)."""
    wanted = org.strip().rstrip("/").lower()
    for connection in ado_connections(organization_id):
        url = str(connection.config.get("organization_url", "")).strip().rstrip("/").lower()
        if wanted == url or ("://" not in wanted and wanted == org_name_of(url)):
            return connection
    return None


def _guarded(url: str, creds: Any) -> Any:
    from syncs.netguard import check_destination_url
    from syncs.providers.azure_devops.client import GuardedConnection

    return GuardedConnection(check_destination_url(url, field="organization_url"), creds)


def _connection_client(connection: Any) -> Any:
    """A GuardedConnection with the connection's own credential (PAT, OAuth token or Entra)."""
    from syncs.providers.azure_devops.client import credentials_for
    from syncs.services.connections import connection_info

    info = connection_info(connection)
    url = str(connection.config.get("organization_url", ""))
    return _guarded(url, credentials_for(info.method, dict(info.credentials), dict(info.config)))


# --- binding: System.AccessToken -------------------------------------------------------------------


def parse_ado_run(raw: str) -> tuple[str, str, int]:
    """``ORG/PROJECT/BUILD_ID`` → (org, project, build id); ORG may be a URL (``$(System.CollectionUri)``)."""
    text = (raw or "").strip()
    org, _, rest = text.rstrip("/").rpartition("/")
    org, _, project = org.rpartition("/")
    if not org or not project or not rest.isdigit() or not _PROJECT.match(project) or int(rest) <= 0:
        raise ValidationFailed("adoRun", RUN_FORMAT)
    return org, project, int(rest)


def build_read(*, org_url: str, project: str, build_id: int, access_token: str) -> Any:
    """``GET {org_url}/{project}/_apis/build/builds/{build_id}`` with the pipeline's own token
    (``System.AccessToken``, or an Invoke REST API check's ``AuthToken``): the build as Azure DevOps
    answers it (``status``, ``project.id``, ``definition.id``…). *org_url* must be the organization
    URL of one of the Strongroom organization's Azure DevOps connections: the token goes there and
    nowhere else, and is never kept, logged or put in an error. Raises ValidationFailed
    (``adoAccessToken``: token refused; ``adoRun``: build not found) or AdoUnavailable (502)."""
    from msrest.authentication import BasicTokenAuthentication

    from syncs.providers.azure_devops.client import call
    from syncs.providers.base import AuthError, ConfigError, ProviderError

    try:
        ado = _guarded(org_url, BasicTokenAuthentication({"access_token": access_token.strip()}))
        builds = call(ado, "discover the build API", ado.clients_v7_1.get_build_client)
        build = call(ado, "read the build", builds.get_build, project, build_id)
    except AuthError:
        raise ValidationFailed(
            "adoAccessToken",
            "Azure DevOps did not accept the access token for this project (is it System.AccessToken?)",
        ) from None
    except ConfigError as exc:
        if exc.status == 404 or exc.status == 400:
            raise ValidationFailed("adoRun", f"build {build_id} was not found in project {project}") from None
        raise AdoUnavailable("Azure DevOps could not be asked about the build") from None
    except (ProviderError, ValidationFailed):
        raise AdoUnavailable("Azure DevOps could not be asked about the build") from None
    if build is None:
        raise ValidationFailed("adoRun", f"build {build_id} was not found in project {project}")
    return build


def run_binding_from_access_token(*, organization_id: int, ado_run: str, access_token: str) -> RunBinding:
    """Prove ``ado_run`` with the pipeline's ``System.AccessToken``: the build exists in that
    project of that organization and is in progress. Raises ValidationFailed (400: bad format, no
    connection for the organization, token refused, build unknown or not in progress) or
    AdoUnavailable (502). The token is used once, here, and never kept."""
    org, project, build_id = parse_ado_run(ado_run)
    if not access_token or not access_token.strip():
        raise ValidationFailed("adoAccessToken", "required with adoRun: the pipeline's System.AccessToken")
    connection = connection_for_org(organization_id, org)
    if connection is None:
        raise ValidationFailed(
            "adoRun", "no Azure DevOps connection of this organization is for that Azure DevOps organization"
        )
    org_url = str(connection.config.get("organization_url", "")).strip().rstrip("/")
    build = build_read(org_url=org_url, project=project, build_id=build_id, access_token=access_token)
    status = str(getattr(build, "status", "") or "")
    if status != IN_PROGRESS:
        raise ValidationFailed(
            "adoRun", f"build {build_id} is {status or 'in an unknown state'}: only a run in progress can hold a lease"
        )
    project_ref = getattr(build, "project", None)
    project_id = str(getattr(project_ref, "id", "") or "").lower()
    if not _GUID.match(project_id):
        raise ValidationFailed("adoRun", f"Azure DevOps did not name the project of build {build_id}")
    from dynamic.models import AdoRunHook

    account_id = AdoRunHook.objects.filter(connection=connection).values_list("account_id", flat=True).first()
    return RunBinding(
        org_url=org_url,
        account_id=account_id or "",
        project_id=project_id,
        build_id=build_id,
        state=IN_PROGRESS,
        proof=RunProof.ACCESS_TOKEN,
        connection_id=connection.pk,
    )


# --- binding: pipeline OIDC token ------------------------------------------------------------------


def ado_run_claims(claims: dict[str, Any], *, bound_issuer: str) -> dict[str, Any] | None:
    """The run a verified JWT names, when it is an Azure DevOps pipeline token whose issuer the auth
    method pins; None otherwise (Entra tokens, service-connection tokens, unpinned issuers)."""
    issuer = str(claims.get("iss") or "")
    if not issuer or issuer != (bound_issuer or "").strip() or not ADO_ISSUER.match(issuer):
        return None
    subject = str(claims.get("sub") or "")
    run_id, project_id, account_id = (str(claims.get(name) or "").strip() for name in ("run_id", "prj_id", "org_id"))
    if not subject.startswith("p://") or not run_id.isdigit() or int(run_id) <= 0:
        return None
    if not _GUID.match(project_id) or not _GUID.match(account_id):
        return None
    return {
        "issuer": issuer,
        "org_name": subject[4:].split("/", 1)[0][:200],
        "account_id": account_id.lower(),
        "project_id": project_id.lower(),
        "definition_id": str(claims.get("def_id") or "")[:64],
        "build_id": int(run_id),
    }


def record_run_claims(*, token: Any, config: Any, claims: dict[str, Any], **_: Any) -> None:
    """``machine_login_verified`` receiver: remember the run of an Azure DevOps pipeline token."""
    run = ado_run_claims(claims or {}, bound_issuer=str(getattr(config, "bound_issuer", "") or ""))
    if run is not None:
        AdoRunToken.objects.create(access_token=token, **run)


def run_binding_for_token(*, organization_id: int, token: Any) -> RunBinding | None:
    """The run an identity's access token (``request.auth``) was issued for, or None."""
    token_id = getattr(token, "pk", None)
    if token_id is None or token.__class__.__name__ != "IdentityAccessToken":
        return None
    run = AdoRunToken.objects.filter(access_token_id=token_id).first()
    if run is None:
        return None
    from dynamic.models import AdoRunHook

    connection = None
    hook = AdoRunHook.objects.filter(organization_id=organization_id, account_id=run.account_id).first()
    if hook is not None:
        connection = hook.connection
    elif run.org_name:
        connection = connection_for_org(organization_id, run.org_name)
    org_url = (
        str(connection.config.get("organization_url", "")).rstrip("/")
        if connection is not None
        else f"https://dev.azure.com/{run.org_name}"
    )
    return RunBinding(
        org_url=org_url,
        account_id=run.account_id,
        project_id=run.project_id,
        build_id=run.build_id,
        state=IN_PROGRESS,
        proof=RunProof.OIDC,
        connection_id=connection.pk if connection is not None else None,
    )


def run_binding_resolve(
    *, organization_id: int, token: Any, ado_run: str | None, access_token: str | None
) -> RunBinding | None:
    """What a lease creation binds to: the token's run (OIDC) or the proven ``adoRun``. Naming a
    different run than the token's is refused (400); naming the same one needs no second proof."""
    implicit = run_binding_for_token(organization_id=organization_id, token=token)
    if not ado_run:
        if access_token:
            raise ValidationFailed("adoAccessToken", "only with adoRun")
        return implicit
    if implicit is not None:
        _, _, build_id = parse_ado_run(ado_run)
        if build_id != implicit.build_id:
            raise ValidationFailed("adoRun", "names another run than the one your pipeline token was issued for")
        return implicit
    return run_binding_from_access_token(
        organization_id=organization_id, ado_run=ado_run, access_token=access_token or ""
    )


# --- ending: completed runs ------------------------------------------------------------------------


def run_leases(
    *, organization_id: int, project_id: str, build_id: int, account_ids: list[str], connection_id: int | None
) -> Any:
    """The live leases of one run in one Strongroom organization (matched on the Azure DevOps
    account, or on the connection they were proven through)."""
    match = Q(ado_account_id__in=[a.lower() for a in account_ids if a])
    if connection_id is not None:
        match |= Q(ado_connection_id=connection_id)
    return Lease.objects.filter(
        match,
        organization_id_snapshot=organization_id,
        ado_project_id=project_id.lower(),
        ado_build_id=build_id,
        status__in=LIVE_FOR_RUN,
    )


def run_leases_mark(*, lease_ids: list[int], state: str, reason: str, actor: AuditActor = SYSTEM_ACTOR) -> list[int]:
    """Record that the run of these leases ended and ask for their revocation (from here on the
    sweeper revokes them even if nothing else does). Call inside the transaction that records why
    (the hook's event row); returns the ids of the leases still live."""
    now = timezone.now()
    with transaction.atomic():
        leases = list(Lease.objects.select_for_update().filter(pk__in=lease_ids, status__in=LIVE_FOR_RUN))
        for lease in leases:
            Lease.objects.filter(pk=lease.pk).update(
                ado_run_state=state[:16],
                ado_checked_at=now,
                revoke_requested_at=lease.revoke_requested_at or now,
            )
            lease_audit(lease, "lease.run_ended", actor, reason=reason, build_id=lease.ado_build_id, state=state)
    return [lease.pk for lease in leases]


def run_leases_revoke(*, lease_ids: list[int], reason: str, actor: AuditActor = SYSTEM_ACTOR) -> int:
    """Revoke marked leases now: up to ``STRONGROOM_ADO_RUN_INLINE_REVOCATIONS`` in this process
    (a run holds a handful), the rest through revocation messages. Returns how many were revoked
    here; a failure stays on its lease and is retried by the revocation engine."""
    inline = int(getattr(settings, "STRONGROOM_ADO_RUN_INLINE_REVOCATIONS", 25))
    revoked = 0
    for index, lease_id in enumerate(lease_ids):
        if index < inline:
            revoked += lease_revoke_execute(lease_id=lease_id, actor=actor, reason=reason).status == "revoked"
        else:
            dispatch(lease_id)
    return revoked


# --- the poller ------------------------------------------------------------------------------------


def _pause_key(connection_id: int) -> str:
    return f"dynamic:ado-poll-pause:{connection_id}"


def ado_runs_poll(*, batch: int | None = None, max_requests: int | None = None) -> dict[str, int]:
    """Beat: ask Azure DevOps for the state of every build that holds live leases (through the
    connection each lease was bound with; one ``GET build/builds?buildIds=…`` per project and
    batch), and end the leases of completed (or vanished) runs. A connection answered 429/5xx is
    paused for its ``Retry-After`` (at least a poll interval); a refused one is skipped this round.
    Never raises for one connection's failure."""
    from syncs.models import AppConnection
    from syncs.providers.azure_devops.client import call
    from syncs.providers.base import ProviderError, TransientError

    batch = batch or int(getattr(settings, "STRONGROOM_ADO_RUN_POLL_BATCH", 100))
    max_requests = max_requests or int(getattr(settings, "STRONGROOM_ADO_RUN_POLL_MAX_REQUESTS", 50))
    interval = float(getattr(settings, "STRONGROOM_ADO_RUN_POLL_SECONDS", 60))
    now = timezone.now()
    fresh = now - datetime.timedelta(seconds=max(0.0, interval * 0.5))
    rows = (
        Lease.objects.filter(
            status=LeaseStatus.ACTIVE,
            revoke_requested_at__isnull=True,
            ado_build_id__isnull=False,
            ado_connection__isnull=False,
        )
        .filter(Q(ado_checked_at__isnull=True) | Q(ado_checked_at__lt=fresh))
        .values_list("ado_connection_id", "ado_project_id", "ado_build_id")
        .distinct()
    )
    wanted: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for connection_id, project_id, build_id in rows:
        if connection_id is not None and build_id is not None:
            wanted[connection_id][project_id].add(int(build_id))
    counts = {"requests": 0, "builds": 0, "completed": 0, "revoked": 0, "paused": 0, "failed": 0}
    for connection_id, projects in wanted.items():
        if cache.get(_pause_key(connection_id)):
            counts["paused"] += 1
            continue
        connection = AppConnection.objects.filter(pk=connection_id).first()
        if connection is None:
            continue
        try:
            ado = _connection_client(connection)
            client = call(ado, "discover the build API", ado.clients_v7_1.get_build_client)
            for project_id, build_ids in projects.items():
                ordered = sorted(build_ids)
                for start in range(0, len(ordered), batch):
                    if counts["requests"] >= max_requests:
                        return counts
                    chunk = ordered[start : start + batch]
                    counts["requests"] += 1
                    builds = call(ado, "read build states", client.get_builds, project_id, build_ids=chunk) or []
                    states = {int(build.id): str(build.status or "") for build in builds if build.id is not None}
                    counts["builds"] += len(chunk)
                    _apply_states(connection, project_id, chunk, states, counts)
        except TransientError as exc:
            pause = max(interval, float(exc.retry_after or 0))
            cache.set(_pause_key(connection_id), True, timeout=int(pause) + 1)
            counts["paused"] += 1
            logger.warning("ado run poll: connection %s paused %.0f s (%s)", connection_id, pause, exc)
        except (ProviderError, ValidationFailed) as exc:
            counts["failed"] += 1
            logger.warning("ado run poll: connection %s skipped (%s)", connection_id, exc)
        except Exception as exc:  # noqa: BLE001 - one connection never stops the others
            counts["failed"] += 1
            logger.warning("ado run poll: connection %s failed (%s)", connection_id, type(exc).__name__)
    return counts


def _apply_states(
    connection: Any, project_id: str, chunk: list[int], states: dict[int, str], counts: dict[str, int]
) -> None:
    now = timezone.now()
    for build_id in chunk:
        state = states.get(build_id, "")
        leases = Lease.objects.filter(
            ado_connection=connection, ado_project_id=project_id, ado_build_id=build_id, status__in=LIVE_FOR_RUN
        )
        if state and state != COMPLETED:
            leases.update(ado_run_state=state[:16], ado_checked_at=now)
            continue
        # Completed, or gone (a deleted run runs no more steps): the run's leases end now.
        counts["completed"] += 1
        reason = "the Azure DevOps run ended (poll)"
        marked = run_leases_mark(
            lease_ids=list(leases.values_list("pk", flat=True)), state=state or "deleted", reason=reason
        )
        counts["revoked"] += run_leases_revoke(lease_ids=marked, reason=reason)


def new_hook_username() -> str:
    return f"ado-hook-{uuid.uuid4().hex[:12]}"
