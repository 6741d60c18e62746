"""Who is acting: a person (Django user), a machine identity, or the system acting for someone.

A person and a machine are never comparable by a bare integer: people and identities live in two
tables whose ids overlap, and an identity whose id equals an org admin's id once read that
organization's audit log. So a ``Principal`` has no ``id``. It carries a typed ``PrincipalKey``
(kind + primary key, equal only to a key of the same kind) and two narrow accessors:

- ``principal.user_id``: the Django user's pk for a person, **None** for anything else;
- ``principal.identity_id``: the identity's pk for a machine identity, **None** for anything else.

``filter(user_id=principal.user_id)`` therefore matches nothing for a machine (``user_id IS NULL``
on a non-null column), and ``membership.user_id == principal.user_id`` is False for it. Writing the
wrong comparison needs ``principal.key.pk``, which reads as what it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from audit.models import ActorType
from audit.services import AuditActor


class PrincipalKind(StrEnum):
    USER = "user"
    IDENTITY = "identity"
    SYNC = "sync"  # the system reading a sync's source with its owner's access


@dataclass(frozen=True)
class PrincipalKey:
    """A typed reference to a principal: ``user:7`` and ``identity:7`` are different keys."""

    kind: PrincipalKind
    pk: int

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.pk}"


@dataclass(frozen=True)
class Principal:
    key: PrincipalKey
    label: str
    user: Any = None
    is_superuser: bool = False
    identity: Any = None
    organization_id: int | None = None  # an identity's organization (people can belong to several)
    # The access epoch the request's token check read (access_cache/epoch.py): what this principal
    # may see is served from the per-process cache of that epoch. None: computed per request.
    access_epoch: int | None = field(default=None, compare=False)
    # The machine identity's access token row (pk) the request came with: read events name it so
    # governance can tell which Azure DevOps run a delivery went to (dynamic.AdoRunToken).
    token_id: int | None = field(default=None, compare=False)

    @classmethod
    def for_user(cls, user: Any, *, access_epoch: int | None = None) -> Principal:
        return cls(
            key=PrincipalKey(PrincipalKind.USER, user.pk),
            label=user.get_username(),
            user=user,
            is_superuser=bool(user.is_superuser),
            access_epoch=access_epoch,
        )

    @classmethod
    def for_identity(cls, identity: Any, *, access_epoch: int | None = None, token_id: int | None = None) -> Principal:
        return cls(
            key=PrincipalKey(PrincipalKind.IDENTITY, identity.pk),
            label=identity.name,
            identity=identity,
            organization_id=identity.organization_id,
            access_epoch=access_epoch,
            token_id=token_id,
        )

    @property
    def kind(self) -> str:
        return self.key.kind.value

    @property
    def is_user(self) -> bool:
        return self.key.kind is PrincipalKind.USER

    @property
    def is_identity(self) -> bool:
        return self.key.kind is PrincipalKind.IDENTITY

    @property
    def user_id(self) -> int | None:
        """The person's user pk; None for a machine identity or the system."""
        return self.key.pk if self.is_user else None

    @property
    def identity_id(self) -> int | None:
        """The machine identity's pk; None for a person or the system."""
        return self.key.pk if self.is_identity else None

    @property
    def is_platform_superuser(self) -> bool:
        return self.is_user and self.is_superuser

    def audit_actor(self, role: str = "") -> AuditActor:
        actor_type = ActorType.USER if self.is_user else ActorType.IDENTITY
        return AuditActor(type=actor_type, id=str(self.key.pk), label=self.label, role=role)

    def __repr__(self) -> str:
        return f"<Principal {self.key} {self.label}>"
