"""The one way an import writes values: into its place, through ``secret_bulk_upsert`` (the
permission decision point, the approval write gate, versions, the folder commit and the
``secret.bulk_upserted`` audit event all come with it).

Called inside the import service's ``all_or_nothing`` transaction: a held write is caught there,
so the change request the gate opened commits together with the import's HELD status.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from estate.models import EstateImport, ImportStatus, ItemStatus
from secrets_app.models import Secret, SecretType
from secrets_app.policy.enforcement import require
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, project_scope
from secrets_app.selectors.tree import environment_get
from secrets_app.services.folders import folder_ensure
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert
from secrets_app.write_gate import HeldForApproval, HeldWrite


def import_scope(principal: Principal, estate_import: EstateImport) -> ProjectScope:
    """The principal in the import's project, allowed to create secrets at its place: NotFound for
    a project or environment it cannot see, PermissionDenied (audited) otherwise."""
    scope = project_scope(principal, str(estate_import.project.public_id))
    env = environment_get(scope, estate_import.environment.slug)
    require(scope, "secrets.create", environment=env.slug, path=estate_import.path)
    return scope


@dataclass
class WriteOutcome:
    counts: dict[str, int] = field(default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0})
    written: list[str] = field(default_factory=list)  # keys sent to the secrets service
    held: HeldWrite | None = None

    @property
    def held_id(self) -> str | None:
        return self.held.id if self.held is not None else None


def bulk_write(scope: ProjectScope, estate_import: EstateImport, values: dict[str, str]) -> WriteOutcome:
    """Write *values* ({key: value}) at the import's place in one bulk upsert (folders created
    first). An empty map writes nothing. A held write returns ``held`` and records the change
    request's id on *estate_import* (not saved here)."""
    outcome = WriteOutcome()
    if not values:
        return outcome
    environment = estate_import.environment.slug
    folder_ensure(scope=scope, environment=environment, path=estate_import.path)
    items = [SecretInput(key=key, value=value) for key, value in values.items()]
    try:
        result = secret_bulk_upsert(scope=scope, environment=environment, path=estate_import.path, items=items)
    except HeldForApproval as held:
        from approvals.models import ChangeRequest

        outcome.held = held.held
        outcome.written = sorted(values)
        estate_import.change_request_id = (
            ChangeRequest.objects.filter(public_id=held.held.id).values_list("pk", flat=True).first()
        )
        return outcome
    outcome.counts = {
        "created": len(result.created),
        "updated": len(result.updated),
        "unchanged": len(result.unchanged),
    }
    outcome.written = sorted(values)
    return outcome


def live_versions(estate_import: EstateImport, keys: list[str]) -> dict[str, int]:
    """The live version of each shared secret named in *keys* at the import's place."""
    return dict(
        Secret.objects.filter(
            folder__environment=estate_import.environment,
            folder__path=estate_import.path,
            key__in=keys,
            type=SecretType.SHARED,
            deleted_at__isnull=True,
        ).values_list("key", "version")
    )


def live_keys(estate_import: EstateImport) -> list[str]:
    """Keys of the live shared secrets at the import's place (names only)."""
    return list(
        Secret.objects.filter(
            folder__environment=estate_import.environment,
            folder__path=estate_import.path,
            type=SecretType.SHARED,
            deleted_at__isnull=True,
        ).values_list("key", flat=True)
    )


def live_values(scope: ProjectScope, estate_import: EstateImport, keys: list[str]) -> tuple[dict[str, bytes], set[str]]:
    """The current values (decrypted, in memory only) of the shared secrets named in *keys* at the
    import's place, which an import compares Azure DevOps values with; and the keys that exist but
    whose value the principal may not read (``secrets.read_value`` with the secret's tags): those are
    never decrypted nor compared (a comparison would tell whether they equal a value the person
    can see in Azure DevOps)."""
    from secrets_app.selectors.secrets import current_plaintext

    if not keys:
        return {}, set()
    query = Secret.objects.filter(
        folder__environment=estate_import.environment,
        folder__path=estate_import.path,
        type=SecretType.SHARED,
        deleted_at__isnull=True,
        key__in=keys,
    ).prefetch_related("tags")
    values: dict[str, bytes] = {}
    unreadable: set[str] = set()
    for secret in query:
        tags = [tag.slug for tag in secret.tags.all()]
        if scope.access.can(
            "secrets.read_value", environment=estate_import.environment.slug, path=estate_import.path, tags=tags
        ):
            values[secret.key] = current_plaintext(secret)[0]
        else:
            unreadable.add(secret.key)
    return values, unreadable


def recompute_status(estate_import: EstateImport, *, held: HeldWrite | None) -> None:
    """HELD when the last write was held; NEEDS_VALUES while an item waits for a value (or for
    a held write); COMPLETE otherwise. Not saved here."""
    if held is not None:
        estate_import.status = ImportStatus.HELD
        return
    estate_import.change_request_id = None
    waiting = estate_import.items.filter(status__in=[ItemStatus.NEEDS_VALUE, ItemStatus.PENDING]).exists()
    estate_import.status = ImportStatus.NEEDS_VALUES if waiting else ImportStatus.COMPLETE
