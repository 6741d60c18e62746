"""The system principal a rotation writes its owned secrets as: actor type ``system``, label
``rotation <name>``, allowed to read, create and edit secrets at its own folder and nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from audit.models import ActorType
from audit.services import AuditActor
from rotation.models import Rotation
from secrets_app.policy.decision import ProjectAccess
from secrets_app.policy.rules import Rule
from secrets_app.principals import Principal, PrincipalKey, PrincipalKind
from secrets_app.selectors.access import ProjectScope

ROLE = "system:rotation"


@dataclass(frozen=True)
class RotationPrincipal(Principal):
    rotation_public_id: str = ""

    def audit_actor(self, role: str = "") -> AuditActor:
        return AuditActor(type=ActorType.SYSTEM, id=f"rotation:{self.rotation_public_id}", label=self.label, role=role)


def rotation_actor(rotation: Rotation) -> AuditActor:
    return AuditActor(type=ActorType.SYSTEM, id=f"rotation:{rotation.public_id}", label=f"rotation {rotation.name}")


def rotation_scope(rotation: Rotation) -> ProjectScope:
    environments = frozenset({rotation.environment.slug})
    path = rotation.folder.path
    rules = tuple(
        Rule(effect="allow", action=action, environments=environments, path=path)
        for action in ("secrets.read", "secrets.read_value", "secrets.create", "secrets.edit")
    )
    principal = RotationPrincipal(
        # The SYNC kind is the core's "system acting on a folder" key; the pk is negative so it
        # can never equal a sync's key in a cache.
        key=PrincipalKey(PrincipalKind.SYNC, -int(rotation.pk)),
        label=f"rotation {rotation.name}",
        rotation_public_id=str(rotation.public_id),
    )
    return ProjectScope(
        principal=principal,
        project=rotation.project,
        access=ProjectAccess(project_id=rotation.project_id, role=ROLE, rules=rules),
    )
