"""Who is acting: a person (Django user) or a machine identity. One shape for both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audit.models import ActorType
from audit.services import AuditActor


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" | "identity"
    id: int
    label: str
    user: Any = None
    is_superuser: bool = False
    identity: Any = None
    organization_id: int | None = None  # an identity's organization (people can belong to several)

    @classmethod
    def for_user(cls, user: Any) -> Principal:
        return cls(kind="user", id=user.pk, label=user.get_username(), user=user, is_superuser=bool(user.is_superuser))

    @classmethod
    def for_identity(cls, identity: Any) -> Principal:
        return cls(
            kind="identity",
            id=identity.pk,
            label=identity.name,
            identity=identity,
            organization_id=identity.organization_id,
        )

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def audit_actor(self, role: str = "") -> AuditActor:
        actor_type = ActorType.USER if self.kind == "user" else ActorType.IDENTITY
        return AuditActor(type=actor_type, id=str(self.id), label=self.label, role=role)

    def __repr__(self) -> str:
        return f"<Principal {self.key} {self.label}>"
