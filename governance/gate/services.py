"""Pipeline gates: configuring them (organization admins) and authenticating Azure DevOps' calls.

A gate links an Azure DevOps pipeline (organization, project id, and a pipeline definition or an
ADO environment) to what it reads in Strongroom (project, environment, paths, machine identity).
The Invoke REST API check reaches it through a Generic service connection whose Basic credentials
are the gate's ``username`` and a generated password: shown once at creation (and at each password
reset), stored only as a keyed hash, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from audit.services import audit_record
from governance.models import GateDecision, GateMode, PipelineGate
from secrets_app.errors import NotFound, ValidationFailed
from secrets_app.models import Environment, MachineIdentity, Organization, Project
from secrets_app.principals import Principal
from secrets_app.selectors.access import org_admin_require

MAX_PATHS = 20
GATE_FIELDS = (
    "name",
    "ado_organization",
    "ado_project_id",
    "ado_definition_id",
    "ado_environment",
    "paths",
    "require_rotation_current",
    "require_no_leaks",
    "require_no_quarantined",
    "require_no_irrevocable_leases",
    "mode",
    "enabled",
)


def gate_password_hash(raw: str) -> str:
    """Keyed hash of a gate's Basic password (the only form stored), like client secrets."""
    key = hashlib.sha256(b"strongroom-gate-password|" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, raw.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def gate_password_matches(gate: PipelineGate, raw: str) -> bool:
    return hmac.compare_digest(gate_password_hash(raw), gate.password_hash)


@dataclass(frozen=True)
class GateCredentials:
    """The Basic credentials of a gate's Generic service connection (the password shown once)."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"GateCredentials(username={self.username!r}, password=***)"


def _require_admin(principal: Principal, organization: Organization, action: str, gate: str = "") -> None:
    org_admin_require(
        principal,
        organization.pk,
        requested_action=action,
        resource_type="pipeline_gate",
        resource_id=gate,
        message="Only organization admins may configure pipeline gates",
    )


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def _new_password() -> str:
    return secrets.token_urlsafe(32)


def _clean_paths(paths: Any) -> list[str]:
    from governance.gate.evaluate import path_globs

    if paths is None or paths == []:
        return ["/"]
    if not isinstance(paths, list) or len(paths) > MAX_PATHS:
        raise ValidationFailed("paths", f"a list of 1 to {MAX_PATHS} folder paths or globs")
    path_globs([str(path) for path in paths])  # validates each (raises ValidationFailed naming paths)
    return sorted({str(path).strip() for path in paths})


def _resolve(
    organization: Organization, *, project: str, environment: str, identity: str, parity_from: str | None
) -> tuple[Project, Environment, MachineIdentity, Environment | None]:
    found = Project.objects.filter(organization=organization).filter(
        **({"public_id": _uuid(project)} if _uuid(project) else {"slug": project})
    )
    target = found.first()
    if target is None:
        raise ValidationFailed("project", "no project of this organization has that slug or id")
    env = Environment.objects.filter(project=target, slug=environment).first()
    if env is None:
        raise ValidationFailed("environment", f"the project has no environment {environment!r}")
    robot = MachineIdentity.objects.filter(organization=organization).filter(
        **({"public_id": _uuid(identity)} if _uuid(identity) else {"name": identity})
    )
    machine = robot.first()
    if machine is None:
        raise ValidationFailed("identity", "no machine identity of this organization has that name or id")
    source = None
    if parity_from:
        source = Environment.objects.filter(project=target, slug=parity_from).first()
        if source is None:
            raise ValidationFailed("parityFrom", f"the project has no environment {parity_from!r}")
        if source.pk == env.pk:
            raise ValidationFailed("parityFrom", "must be another environment than the gate's")
    return target, env, machine, source


def _check_ado(values: dict[str, Any]) -> None:
    if not str(values.get("ado_organization") or "").strip():
        raise ValidationFailed("adoOrganization", "required: the Azure DevOps organization name")
    if not str(values.get("ado_project_id") or "").strip():
        raise ValidationFailed("adoProjectId", "required: the Azure DevOps project id (GUID)")
    if not values.get("ado_definition_id") and not str(values.get("ado_environment") or "").strip():
        raise ValidationFailed("adoDefinitionId", "give the pipeline definition id or the ADO environment name")
    if values.get("mode", GateMode.API_RESPONSE) not in GateMode.values:
        raise ValidationFailed("mode", "api_response or callback")


def _audit_fields(gate: PipelineGate) -> dict[str, Any]:
    return {
        "name": gate.name,
        "ado_organization": gate.ado_organization,
        "ado_project_id": gate.ado_project_id,
        "ado_definition_id": gate.ado_definition_id,
        "ado_environment": gate.ado_environment,
        "project": gate.project.slug,
        "environment": gate.environment.slug,
        "paths": gate.paths,
        "identity": gate.identity.name,
        "mode": gate.mode,
        "parity_from": gate.parity_from.slug if gate.parity_from else None,
        "policy": {
            "rotation_current": gate.require_rotation_current,
            "no_leaks": gate.require_no_leaks,
            "no_quarantined": gate.require_no_quarantined,
            "no_irrevocable_leases": gate.require_no_irrevocable_leases,
        },
        "enabled": gate.enabled,
    }


def gate_create(
    *,
    principal: Principal,
    organization: Organization,
    project: str,
    environment: str,
    identity: str,
    parity_from: str | None = None,
    **values: Any,
) -> tuple[PipelineGate, GateCredentials]:
    """Create a gate; returns it and its Basic credentials (the password is shown this once)."""
    _require_admin(principal, organization, "pipeline_gate.create")
    unknown = set(values) - set(GATE_FIELDS)
    if unknown:
        raise ValidationFailed(sorted(unknown)[0], "unknown field")
    if not str(values.get("name") or "").strip():
        raise ValidationFailed("name", "required")
    _check_ado(values)
    values["paths"] = _clean_paths(values.get("paths"))
    target, env, machine, source = _resolve(
        organization, project=project, environment=environment, identity=identity, parity_from=parity_from
    )
    password = _new_password()
    with transaction.atomic():
        gate = PipelineGate.objects.create(
            organization=organization,
            project=target,
            environment=env,
            identity=machine,
            parity_from=source,
            username=f"gate-{uuid.uuid4().hex[:16]}",
            password_hash=gate_password_hash(password),
            **{name: value for name, value in values.items() if value is not None},
        )
        audit_record(
            action="pipeline_gate.created",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            project_id=target.pk,
            environment=env.slug,
            resource_type="pipeline_gate",
            resource_id=str(gate.public_id),
            metadata=_audit_fields(gate),
        )
    return gate, GateCredentials(gate.username, password)


def gate_list(*, principal: Principal, organization: Organization) -> list[PipelineGate]:
    _require_admin(principal, organization, "pipeline_gate.read")
    return list(
        PipelineGate.objects.filter(organization=organization).select_related(
            "project", "environment", "identity", "parity_from"
        )
    )


def gate_get(*, principal: Principal, organization: Organization, gate_id: str) -> PipelineGate:
    _require_admin(principal, organization, "pipeline_gate.read", gate_id)
    public_id = _uuid(gate_id)
    if public_id is None:
        raise NotFound("Pipeline gate not found")
    gate = (
        PipelineGate.objects.filter(organization=organization, public_id=public_id)
        .select_related("project", "environment", "identity", "parity_from")
        .first()
    )
    if gate is None:
        raise NotFound("Pipeline gate not found")
    return gate


def gate_update(
    *,
    principal: Principal,
    organization: Organization,
    gate_id: str,
    reset_password: bool = False,
    **changes: Any,
) -> tuple[PipelineGate, GateCredentials | None]:
    """Change a gate (only the fields given); ``reset_password`` issues a new Basic password,
    returned this once (the old one stops working at once)."""
    _require_admin(principal, organization, "pipeline_gate.update", gate_id)
    gate = gate_get(principal=principal, organization=organization, gate_id=gate_id)
    place = {
        name: changes.pop(name) for name in ("project", "environment", "identity", "parity_from") if name in changes
    }
    unknown = set(changes) - set(GATE_FIELDS)
    if unknown:
        raise ValidationFailed(sorted(unknown)[0], "unknown field")
    merged = {name: getattr(gate, name) for name in GATE_FIELDS} | changes
    _check_ado(merged)
    if "paths" in changes:
        changes["paths"] = _clean_paths(changes["paths"])
    if place:
        target, env, machine, source = _resolve(
            organization,
            project=str(place.get("project") or gate.project.slug),
            environment=str(place.get("environment") or gate.environment.slug),
            identity=str(place.get("identity") or gate.identity.public_id),
            parity_from=place["parity_from"]
            if "parity_from" in place
            else (gate.parity_from.slug if gate.parity_from else None),
        )
        gate.project, gate.environment, gate.identity, gate.parity_from = target, env, machine, source
    for name, value in changes.items():
        setattr(gate, name, value)
    credentials = None
    if reset_password:
        password = _new_password()
        gate.password_hash = gate_password_hash(password)
        credentials = GateCredentials(gate.username, password)
    with transaction.atomic():
        gate.save()
        audit_record(
            action="pipeline_gate.updated",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            project_id=gate.project_id,
            environment=gate.environment.slug,
            resource_type="pipeline_gate",
            resource_id=str(gate.public_id),
            metadata={**_audit_fields(gate), "password_reset": reset_password},
        )
    return gate, credentials


def gate_delete(*, principal: Principal, organization: Organization, gate_id: str) -> None:
    gate = gate_get(principal=principal, organization=organization, gate_id=gate_id)
    _require_admin(principal, organization, "pipeline_gate.delete", gate_id)
    with transaction.atomic():
        audit_record(
            action="pipeline_gate.deleted",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            project_id=gate.project_id,
            resource_type="pipeline_gate",
            resource_id=str(gate.public_id),
            metadata={"name": gate.name},
        )
        gate.delete()


def gate_decisions(
    *, principal: Principal, organization: Organization, gate_id: str | None = None, limit: int = 100
) -> list[GateDecision]:
    """The newest decisions of one gate (or of every gate of the organization)."""
    _require_admin(principal, organization, "pipeline_gate.read", gate_id or "")
    decisions = GateDecision.objects.filter(gate__organization=organization).select_related("gate")
    if gate_id is not None:
        decisions = decisions.filter(gate=gate_get(principal=principal, organization=organization, gate_id=gate_id))
    return list(decisions.order_by("-id")[: max(1, min(limit, 500))])
