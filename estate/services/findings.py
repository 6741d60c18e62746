"""Findings about the estate: a pure function over the resource rows (``findings_compute``) and
its storage (``findings_store``: upsert by ``key``, resolve the ones no longer found).

Every finding's ``detail`` and ``data`` name Azure DevOps objects and variables, never a value.
Keys are stable across scans: kind, resource (kind, project, id) and subject, so a finding keeps
its ``first_seen_at`` while it lasts and is resolved (not deleted) when it goes away.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from estate.models import EstateFinding, EstateResource, FindingKind, ResourceKind, Severity
from estate.services import classify

DUPLICATE_THRESHOLD = 3  # the same variable name in this many groups is a finding
DUPLICATE_LISTED = 50  # groups named in a duplicated-name finding's data


@dataclass
class FindingSpec:
    kind: str
    severity: str
    key: str
    detail: str
    resource: EstateResource | None = None
    subject: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def _where(resource: EstateResource) -> str:
    return f"project {resource.ado_project_name}" if resource.ado_project_name else "the organization"


def _key(kind: str, resource: EstateResource | None, subject: str = "") -> str:
    where = f"{resource.kind}:{resource.ado_project_id}:{resource.external_id}" if resource is not None else "org"
    return f"{kind}|{where}|{subject.lower()}"[:700]


_LABELS: dict[str, str] = {
    ResourceKind.VARIABLE_GROUP: "variable group",
    ResourceKind.PIPELINE: "pipeline",
    ResourceKind.SERVICE_CONNECTION: "service connection",
    ResourceKind.SECURE_FILE: "secure file",
}


def _variable_findings(resource: EstateResource) -> Iterable[FindingSpec]:
    label = _LABELS.get(resource.kind, resource.kind)
    for variable in resource.details.get("variables") or []:
        name = str(variable.get("name") or "")
        if not variable.get("is_secret") and variable.get("looks_secret"):
            reason = str(variable.get("reason") or "")
            yield FindingSpec(
                FindingKind.PLAIN_SECRET_VARIABLE,
                Severity.HIGH,
                _key(FindingKind.PLAIN_SECRET_VARIABLE, resource, name),
                f"{name} in {label} {resource.name} ({_where(resource)}) is a plain variable that looks like a "
                f"secret ({reason}); anyone who can read the {label} sees it",
                resource,
                name,
                {"reason": reason},
            )
        if resource.kind == ResourceKind.PIPELINE and variable.get("is_secret"):
            yield FindingSpec(
                FindingKind.SECRET_PIPELINE_VARIABLE,
                Severity.MEDIUM,
                _key(FindingKind.SECRET_PIPELINE_VARIABLE, resource, name),
                f"secret variable {name} is defined on pipeline {resource.name} ({_where(resource)}); "
                "move it to Strongroom (its value must be entered again: Azure DevOps never returns it)",
                resource,
                name,
            )


def _resource_findings(resource: EstateResource) -> Iterable[FindingSpec]:
    details = resource.details or {}
    label = _LABELS.get(resource.kind, resource.kind)
    yield from _variable_findings(resource)
    if details.get("all_pipelines") and resource.kind in _LABELS:
        holds_secrets = resource.kind == ResourceKind.VARIABLE_GROUP and (
            resource.secret_count > 0 or details.get("type") == "AzureKeyVault"
        )
        yield FindingSpec(
            FindingKind.OPEN_TO_ALL_PIPELINES,
            Severity.HIGH if holds_secrets else Severity.MEDIUM,
            _key(FindingKind.OPEN_TO_ALL_PIPELINES, resource),
            f"{label} {resource.name} ({_where(resource)}) may be used by every pipeline of the project"
            + (f", and it holds {resource.secret_count} secret(s)" if holds_secrets else ""),
            resource,
        )
    if resource.kind == ResourceKind.SERVICE_CONNECTION:
        yield from _connection_findings(resource, details)
    if resource.kind == ResourceKind.VARIABLE_GROUP and resource.managed_by_sync_id:
        yield FindingSpec(
            FindingKind.MANAGED_BY_SYNC,
            Severity.INFO,
            _key(FindingKind.MANAGED_BY_SYNC, resource),
            f"variable group {resource.name} ({_where(resource)}) is written by a Strongroom sync",
            resource,
            data={"sync_id": resource.managed_by_sync_id},
        )


def _connection_findings(resource: EstateResource, details: dict[str, Any]) -> Iterable[FindingSpec]:
    kind = details.get("credential_kind")
    where = _where(resource)
    if str(details.get("type") or "").lower() == "azurerm" and kind in (classify.CLIENT_SECRET, classify.CERTIFICATE):
        credential = "a client secret" if kind == classify.CLIENT_SECRET else "a certificate"
        yield FindingSpec(
            FindingKind.CLIENT_SECRET_CONNECTION,
            Severity.HIGH,
            _key(FindingKind.CLIENT_SECRET_CONNECTION, resource),
            f"service connection {resource.name} ({where}) signs in to Azure with {credential}; "
            "convert it to workload identity federation",
            resource,
            data={"credential_kind": kind},
        )
    if kind == classify.FEDERATED and classify.is_legacy_issuer(str(details.get("wif_issuer") or "")):
        yield FindingSpec(
            FindingKind.LEGACY_WIF_ISSUER,
            Severity.MEDIUM,
            _key(FindingKind.LEGACY_WIF_ISSUER, resource),
            f"service connection {resource.name} ({where}) still uses the Azure DevOps token issuer; "
            "convert the issuer before 2027-07-01",
            resource,
        )
    if kind in (classify.PASSWORD, classify.TOKEN):
        yield FindingSpec(
            FindingKind.STATIC_CREDENTIAL_CONNECTION,
            Severity.MEDIUM,
            _key(FindingKind.STATIC_CREDENTIAL_CONNECTION, resource),
            f"service connection {resource.name} ({where}) holds a static "
            + ("password" if kind == classify.PASSWORD else "token")
            + f" ({details.get('scheme')}); rotate it from Strongroom or replace it",
            resource,
            data={"scheme": details.get("scheme")},
        )


def _duplicated_names(groups: list[EstateResource]) -> Iterable[FindingSpec]:
    seen: dict[str, dict[int, EstateResource]] = defaultdict(dict)
    spelled: dict[str, str] = {}
    for group in groups:
        for variable in group.details.get("variables") or []:
            name = str(variable.get("name") or "")
            seen[name.lower()][group.pk] = group
            spelled.setdefault(name.lower(), name)
    for lowered, holders in sorted(seen.items()):
        if len(holders) < DUPLICATE_THRESHOLD:
            continue
        name = spelled[lowered]
        listed = sorted(holders.values(), key=lambda g: (g.ado_project_name.lower(), g.name.lower()))
        yield FindingSpec(
            FindingKind.DUPLICATED_NAME,
            Severity.LOW,
            _key(FindingKind.DUPLICATED_NAME, None, name),
            f"{name} is defined in {len(holders)} variable groups; one Strongroom secret could serve them all",
            None,
            name,
            {
                "count": len(holders),
                "groups": [
                    {"id": g.pk, "name": g.name, "project": g.ado_project_name} for g in listed[:DUPLICATE_LISTED]
                ],
            },
        )


def findings_compute(resources: Iterable[EstateResource]) -> list[FindingSpec]:
    """Every finding over the live resources of one connection. Pure: reads only the rows given."""
    rows = list(resources)
    specs: list[FindingSpec] = []
    for resource in rows:
        specs.extend(_resource_findings(resource))
    specs.extend(_duplicated_names([r for r in rows if r.kind == ResourceKind.VARIABLE_GROUP]))
    return specs


def findings_store(*, organization_id: int, connection_id: int, specs: list[FindingSpec]) -> dict[str, int]:
    """Upsert *specs* by key for the connection; open findings not in *specs* get ``resolved_at``;
    a resolved one found again reopens. Returns {"open", "new", "resolved"}. Call inside the
    scan's completing transaction."""
    now = timezone.now()
    existing = {f.key: f for f in EstateFinding.objects.filter(connection_id=connection_id)}
    wanted = {spec.key: spec for spec in specs}
    create: list[EstateFinding] = []
    update: list[EstateFinding] = []
    touch: list[int] = []
    for key, spec in wanted.items():
        row = existing.get(key)
        if row is None:
            create.append(
                EstateFinding(
                    organization_id=organization_id,
                    connection_id=connection_id,
                    resource=spec.resource,
                    kind=spec.kind,
                    severity=spec.severity,
                    subject=spec.subject[:512],
                    key=key,
                    detail=spec.detail[:400],
                    data=spec.data,
                    first_seen_at=now,
                    last_seen_at=now,
                )
            )
            continue
        resource_id = spec.resource.pk if spec.resource is not None else None
        if (
            row.resolved_at is None
            and row.resource_id == resource_id
            and (row.severity, row.subject, row.detail, row.data)
            == (spec.severity, spec.subject[:512], spec.detail[:400], spec.data)
        ):
            touch.append(row.pk)  # unchanged: one UPDATE for all of them below
            continue
        row.resource = spec.resource
        row.severity, row.subject, row.detail, row.data = (
            spec.severity,
            spec.subject[:512],
            spec.detail[:400],
            spec.data,
        )
        row.last_seen_at, row.resolved_at = now, None
        update.append(row)
    if touch:
        EstateFinding.objects.filter(pk__in=touch).update(last_seen_at=now)
    EstateFinding.objects.bulk_create(create, batch_size=500)
    EstateFinding.objects.bulk_update(
        update, ["resource", "severity", "subject", "detail", "data", "last_seen_at", "resolved_at"], batch_size=500
    )
    # Everything found now carries last_seen_at == now: the rest is no longer found.
    resolved = EstateFinding.objects.filter(
        connection_id=connection_id, resolved_at__isnull=True, last_seen_at__lt=now
    ).update(resolved_at=now)
    return {"open": len(wanted), "new": len(create), "resolved": resolved}
