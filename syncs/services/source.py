"""The desired map of a sync: its source read through the normal secret selector, with the access
of the sync's owner (so a sync pushes only what that person may read), every read audited.

Failure rules (security bar §2.6): anything that would make the map *partial* fails the whole run
instead — a value the owner may not read, a source folder that is gone, the owner losing access,
the same key twice in a recursive source. A partial map combined with "delete removed keys" would
delete data at the destination.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.crypto import salted_hmac

from audit.models import ActorType
from audit.services import AuditActor
from secrets_app.crypto.secret_fields import SecretIntegrityError
from secrets_app.errors import DomainError
from secrets_app.principals import Principal, PrincipalKey, PrincipalKind
from secrets_app.selectors.access import ProjectScope, project_access
from secrets_app.selectors.secrets import secret_list
from syncs.models import SecretSync
from syncs.providers.base import DesiredItem


class SourceError(Exception):
    """The source cannot be read completely; the run fails without writing (not retried)."""


@dataclass(frozen=True)
class SyncPrincipal(Principal):
    """The sync reading its source. It carries the owner's access (computed separately) but is not
    the owner: personal overrides of the owner are never pushed (only shared secrets), and audit
    rows name the sync as a system actor acting for the owner."""

    sync_id: int = 0
    owner_label: str = ""

    def audit_actor(self, role: str = "") -> AuditActor:
        return AuditActor(
            type=ActorType.SYSTEM, id=f"sync:{self.sync_id}", label=f"{self.label} (as {self.owner_label})", role=role
        )


def value_digest(sync_id: int, key: str, value: str) -> str:
    """Keyed HMAC-SHA256 (server secret) of a value, bound to the sync and key: what we remember
    about a value we wrote. Never reversible without the key; equal values in two keys or two
    syncs give different digests."""
    return salted_hmac("strongroom.syncs.value-digest", f"{sync_id}|{key}|{value}", algorithm="sha256").hexdigest()


def sync_scope(sync: SecretSync) -> ProjectScope:
    owner = sync.owner
    if not owner.is_active:
        raise SourceError("the sync's owner is deactivated; a project admin must take the sync over")
    access = project_access(Principal.for_user(owner), sync.project)
    principal = SyncPrincipal(
        key=PrincipalKey(PrincipalKind.SYNC, sync.pk),
        label=f"sync {sync.name}",
        sync_id=sync.pk,
        owner_label=owner.get_username(),
    )
    return ProjectScope(principal=principal, project=sync.project, access=access)


def sync_desired(sync: SecretSync) -> dict[str, DesiredItem]:
    """{Strongroom key: DesiredItem} for the sync's source. Raises SourceError (safe message)."""
    scope = sync_scope(sync)
    try:
        result = secret_list(
            scope,
            environment=sync.environment.slug,
            path=sync.path,
            include_values=True,
            expand=True,
            include_imports=True,
            recursive=sync.recursive,
            audit_action="secret.values_synced",
        )
    except DomainError as exc:
        raise SourceError(f"cannot read the source {sync.environment.slug}:{sync.path}: {exc.message}") from None
    except SecretIntegrityError as failure:
        # Audited by the selector (secret.integrity_failed); a stored value that does not
        # authenticate will not heal by retrying, and pushing without it would make the map partial.
        raise SourceError(
            f"the stored value of {failure.secret.key} (v{failure.version}) failed its integrity check; "
            "see secret.integrity_failed in the audit log"
        ) from None
    desired: dict[str, DesiredItem] = {}
    where: dict[str, str] = {}
    for view in result.secrets:
        if view.value is None:
            raise SourceError(f"the sync's owner may not read the value of {view.path}:{view.key}")
        if view.key in desired:
            raise SourceError(f"{view.key} exists both at {where[view.key]} and at {view.path}; keys must be unique")
        where[view.key] = view.path
        desired[view.key] = DesiredItem(
            key=view.key,
            value=view.value,
            digest=value_digest(sync.pk, view.key, view.value),
            version=view.version,
            path=view.path,
        )
    return desired
