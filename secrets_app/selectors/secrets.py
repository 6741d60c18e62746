"""Secret reads. Permission filtering happens here, once: names need ``secrets.read``, values
``secrets.read_value`` (checked per secret, with its tags). Values are decrypted only when asked
for, and every read is recorded by one audit INSERT that must succeed before anything is returned
(fail closed; a read changes nothing, so it needs no transaction of its own)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from secrets_app.crypto.secret_fields import decrypt_field, version_plaintext
from secrets_app.errors import NotFound, PermissionDenied
from secrets_app.keyring import keyring
from secrets_app.models import Folder, Secret, SecretImport, SecretType, SecretVersion
from secrets_app.paths import canonical_path
from secrets_app.policy.enforcement import require
from secrets_app.quarantine import QuarantinedKey, quarantined_keys, quarantined_read_refuse
from secrets_app.references import expand_references
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.live_secrets import LiveSecret, live_secrets
from secrets_app.selectors.tree import folder_get, folder_subtree
from secrets_app.services.integrity import audits_integrity_failures
from secrets_app.validation import secret_key_for_lookup

MAX_IMPORT_DEPTH = 5


@dataclass
class SecretView:
    id: int
    key: str
    type: str
    version: int
    environment: str
    path: str
    tags: list[str]
    owner_label: str
    purpose: str
    expires_at: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    value: str | None = None
    comment: str | None = None
    imported_from: str | None = None
    raw_value: str | None = None  # with expand: the value as written, when it holds ${...} references
    is_personal_override: bool = False
    quarantined_at: datetime.datetime | None = None  # never with a value: a quarantined secret is not delivered

    def __repr__(self) -> str:  # never show the value
        return f"<SecretView {self.environment}:{self.path}:{self.key} v{self.version}>"


@dataclass
class ReadResult:
    secrets: list[SecretView]
    imports_skipped: list[str] = field(default_factory=list)
    quarantined: list[QuarantinedKey] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """One line per key left out (clients print them: ``strongroom run`` on stderr)."""
        return [item.warning for item in self.quarantined]


def current_plaintext(secret: Secret) -> tuple[bytes, bytes | None]:
    version = SecretVersion.objects.get(secret=secret, version=secret.version)
    return version_plaintext(secret, version)


def _decrypt_current(secrets: list[LiveSecret]) -> dict[int, tuple[str, str | None]]:
    """Decrypt the current version of each secret (its ciphertext came with the secret's row)."""
    plain: dict[int, tuple[str, str | None]] = {}
    for secret in secrets:
        if secret.value_ciphertext is None:
            continue  # no version row: nothing to decrypt (never the case for a live secret)
        value = decrypt_field(secret, secret.version, "value", secret.value_ciphertext).decode("utf-8")  # type: ignore[arg-type]
        comment = (
            decrypt_field(secret, secret.version, "comment", secret.comment_ciphertext).decode("utf-8")  # type: ignore[arg-type]
            if secret.comment_ciphertext
            else None
        )
        plain[secret.pk] = (value, comment)
    return plain


class RequestSecretReader:
    """One request's read: permission checks, decryption and reference resolution, cached."""

    def __init__(self, scope: ProjectScope, *, keep_quarantined: bool = False) -> None:
        self.scope = scope
        self.user_id = scope.principal.user_id
        self._folder_values: dict[tuple[str, str], dict[str, str]] = {}
        self._folder_held: dict[tuple[str, str], dict[str, LiveSecret]] = {}
        self.live: dict[int, LiveSecret] = {}  # what views() read, by id (with current ciphertexts)
        # Quarantined secrets met (chosen for their slot), by id. Their values are never decrypted;
        # with keep_quarantined they stay in views() (names only, for the UI and single gets).
        self.keep_quarantined = keep_quarantined
        self.quarantined: dict[int, LiveSecret] = {}

    def views(
        self,
        folders: list[Folder],
        *,
        with_values: bool,
        only_type: str | None = None,
        key: str | None = None,
        held_out: dict[int, LiveSecret] | None = None,
    ) -> list[SecretView]:
        """The secrets of *folders* the caller may see; quarantined ones met go to *held_out*
        (default: ``self.quarantined``, what the read names in its warnings)."""
        access = self.scope.access
        secrets = [
            secret
            for secret in live_secrets(folders, self.user_id, key)
            if (only_type is None or secret.type == only_type)
            and access.can(
                "secrets.read",
                environment=secret.environment.slug,
                path=secret.folder.path,
                tags=secret.tag_slugs,
            )
        ]
        # A personal override replaces the shared secret of the same key for its owner.
        self.live.update((secret.pk, secret) for secret in secrets)
        chosen: dict[tuple[int, str], LiveSecret] = {}
        for secret in secrets:
            slot = (secret.folder_id, secret.key)
            if slot not in chosen or secret.type == SecretType.PERSONAL:
                chosen[slot] = secret
        ordered = sorted(chosen.values(), key=lambda item: (item.folder.path, item.key))
        held = [secret for secret in ordered if secret.quarantined_at is not None]
        if held:
            (self.quarantined if held_out is None else held_out).update((secret.pk, secret) for secret in held)
            if not self.keep_quarantined:
                ordered = [secret for secret in ordered if secret.quarantined_at is None]
        readable = [
            secret
            for secret in ordered
            if with_values
            and secret.quarantined_at is None
            and access.can(
                "secrets.read_value",
                environment=secret.environment.slug,
                path=secret.folder.path,
                tags=secret.tag_slugs,
            )
        ]
        plain = _decrypt_current(readable)
        views = []
        for secret in ordered:
            value, comment = plain.get(secret.pk, (None, None))
            views.append(
                SecretView(
                    id=secret.pk,
                    key=secret.key,
                    type=secret.type,
                    version=secret.version,
                    environment=secret.environment.slug,
                    path=secret.folder.path,
                    tags=list(secret.tag_slugs),
                    owner_label=secret.owner_label,
                    purpose=secret.purpose,
                    expires_at=secret.expires_at,
                    created_at=secret.created_at,
                    updated_at=secret.updated_at,
                    value=value,
                    comment=comment,
                    is_personal_override=secret.type == SecretType.PERSONAL,
                    quarantined_at=secret.quarantined_at,
                )
            )
        return views

    def resolve(self, environment: str, path: str, key: str) -> str | None:
        """Reference resolver: the value if it exists and the reader may read it, else None."""
        try:
            path = canonical_path(path)
        except Exception:
            return None
        if not self.scope.access.can_anywhere_in("secrets.read_value", environment):
            return None
        cache_key = (environment, path)
        if cache_key not in self._folder_values:
            folder = (
                Folder.objects.filter(project=self.scope.project, environment__slug=environment, path=path)
                .select_related("environment")
                .first()
            )
            values: dict[str, str] = {}
            held: dict[int, LiveSecret] = {}
            if folder is not None:
                for view in self.views([folder], with_values=True, held_out=held):
                    if view.value is not None:
                        values[view.key] = view.value
            self._folder_values[cache_key] = values
            self._folder_held[cache_key] = {secret.key: secret for secret in held.values()}
        quarantined = self._folder_held[cache_key].get(key)
        if quarantined is not None:  # left unresolved, and named in the read's warnings
            self.quarantined[quarantined.pk] = quarantined
        return self._folder_values[cache_key].get(key)

    def imported(
        self, folder: Folder, *, with_values: bool, seen: set[tuple[int, str]], depth: int, skipped: list[str]
    ) -> list[SecretView]:
        views: list[SecretView] = []
        if depth >= MAX_IMPORT_DEPTH:
            return views
        for secret_import in SecretImport.objects.filter(folder=folder).select_related("source_environment"):
            env_slug = secret_import.source_environment.slug
            marker = (secret_import.source_environment_id, secret_import.source_path)
            label = f"{env_slug}:{secret_import.source_path}"
            if marker in seen:
                continue
            seen.add(marker)
            source = (
                Folder.objects.filter(environment=secret_import.source_environment, path=secret_import.source_path)
                .select_related("environment")
                .first()
            )
            if source is None or not self.scope.access.visible_path_prefix("secrets.read", env_slug, source.path):
                skipped.append(label)
                continue
            for view in self.views([source], with_values=with_values):
                view.imported_from = label
                views.append(view)
            views.extend(self.imported(source, with_values=with_values, seen=seen, depth=depth + 1, skipped=skipped))
        return views


def _audit_read(
    scope: ProjectScope, action: str, environment: str, path: str, views: list[SecretView], extra: dict[str, object]
) -> None:
    scope.audit(
        action,
        environment=environment,
        path=path,
        resource_type="secret",
        resource_id=views[0].key if len(views) == 1 else "",
        metadata={
            "keys": [f"{view.path}:{view.key}" if view.path != path else view.key for view in views][:500],
            "ids": [view.id for view in views][:500],
            "count": len(views),
            **extra,
            # the identity's access token row: governance maps it to the Azure DevOps run it proved
            **({"token": scope.principal.token_id} if scope.principal.token_id is not None else {}),
        },
    )


@audits_integrity_failures
def secret_list(
    scope: ProjectScope,
    *,
    environment: str,
    path: str = "/",
    include_values: bool = False,
    expand: bool = False,
    include_imports: bool = False,
    recursive: bool = False,
    tag_filter: list[str] | None = None,
    audit_action: str | None = None,
    audited: bool = True,
    include_quarantined: bool = False,
) -> ReadResult:
    """The secrets the caller may see at a place (with imports, and subfolders when recursive).
    Local keys win over imported ones; earlier imports win over later ones.

    *audit_action* names the recorded event when the caller reads for a purpose other than handing
    the values over. With ``audited=False`` nothing is recorded here: the caller records one event
    for several reads itself (the UI's environment matrix, one ``secret.values_compared`` per page)
    and must do so before it returns anything derived from the values.

    Quarantined secrets (governance) are left out, and named in ``ReadResult.quarantined`` (so the
    caller can warn) and in the audit event; a quarantined key also hides an imported one of the
    same name, and a ``${KEY}`` reference to one stays unresolved. With *include_quarantined* (the
    UI's matrix) they stay in the list, without a value, carrying ``quarantined_at``."""
    keyring.root()  # sealed: no answer about secrets at all, names included (raises SealedError)
    env, folder = folder_get(scope, environment, path)
    # Gates only: each secret is then checked with its tags (a role may be limited to tagged secrets).
    require(scope, "secrets.read", environment=env.slug, path=folder.path, some_tags=True)
    if include_values:
        require(scope, "secrets.read_value", environment=env.slug, path=folder.path, some_tags=True)
    reader = RequestSecretReader(scope, keep_quarantined=include_quarantined)
    folders = folder_subtree(folder) if recursive else [folder]
    views = reader.views(folders, with_values=include_values)
    skipped: list[str] = []
    if include_imports:
        present = {(view.path, view.key) for view in views}
        present |= {(held.folder.path, held.key) for held in reader.quarantined.values()}
        for view in reader.imported(
            folder, with_values=include_values, seen={(env.pk, folder.path)}, depth=0, skipped=skipped
        ):
            if (folder.path, view.key) not in present:
                present.add((folder.path, view.key))
                views.append(view)
    if tag_filter:
        views = [view for view in views if set(tag_filter) & set(view.tags)]
    references: set[tuple[str, str, str]] = set()
    if include_values and expand:
        for view in views:
            if view.value is not None and "${" in view.value:
                view.raw_value = view.value
                expansion = expand_references(
                    view.value, environment=view.environment, path=view.path, resolve=reader.resolve, key=view.key
                )
                view.value = expansion.value
                references |= expansion.references
    quarantined = quarantined_keys(reader.quarantined.values(), env.slug, folder.path, tag_filter)
    if not audited:
        return ReadResult(secrets=views, imports_skipped=skipped, quarantined=quarantined)
    # One INSERT, atomic by itself: the values are returned only if it succeeded.
    _audit_read(
        scope,
        audit_action or ("secret.values_read" if include_values else "secret.listed"),
        env.slug,
        folder.path,
        views,
        {
            "references": sorted(f"{e}:{p}:{k}" for e, p, k in references)[:100],
            "recursive": recursive,
            "imports": include_imports,
            **({"quarantined": [item.label for item in quarantined][:100]} if quarantined else {}),
        },
    )
    return ReadResult(secrets=views, imports_skipped=skipped, quarantined=quarantined)


@audits_integrity_failures
def secret_get(
    scope: ProjectScope,
    *,
    environment: str,
    path: str,
    key: str,
    include_value: bool = True,
    expand: bool = False,
    include_imports: bool = False,
    version: int | None = None,
    secret_type: str | None = None,
) -> SecretView:
    """One secret (the caller's personal override when one exists, unless *secret_type* asks for
    ``shared`` or ``personal`` explicitly). With *version*, that version's value.

    A quarantined secret's value (any version) is refused: SecretQuarantined (423), audited as
    ``secret.quarantined_read_refused``; its metadata (``include_value=False``) is still answered."""
    keyring.root()  # sealed: raises SealedError
    key = secret_key_for_lookup(key)
    env, folder = folder_get(scope, environment, path)
    require(scope, "secrets.read", environment=env.slug, path=folder.path, resource=key, some_tags=True)
    reader = RequestSecretReader(scope, keep_quarantined=True)
    matches = reader.views([folder], with_values=False, only_type=secret_type, key=key)
    if not matches and include_imports:
        skipped: list[str] = []
        matches = [
            view
            for view in reader.imported(
                folder, with_values=False, seen={(env.pk, folder.path)}, depth=0, skipped=skipped
            )
            if view.key == key
        ][:1]
    if not matches:
        raise NotFound(f"Secret '{key}' not found at {folder.path}")
    view = matches[0]
    if include_value:
        require(scope, "secrets.read_value", environment=view.environment, path=view.path, tags=view.tags, resource=key)
        if view.quarantined_at is not None:
            quarantined_read_refuse(scope, environment=env.slug, path=folder.path, view=view)
        wanted = version or view.version
        live = reader.live.get(view.id)
        if live is not None and wanted == live.version and live.value_ciphertext is not None:
            # The current version's ciphertext came with the secret's row: no second statement.
            view.value, view.comment = _decrypt_current([live])[view.id]
        else:
            row = SecretVersion.objects.filter(secret_id=view.id, version=wanted).select_related("secret").first()
            if row is None:
                raise NotFound(f"Secret '{key}' has no version {wanted}")
            value, comment = version_plaintext(row.secret, row)
            view.value = value.decode("utf-8")
            view.comment = comment.decode("utf-8") if comment else None
        view.version = wanted
        references: set[tuple[str, str, str]] = set()
        if expand and "${" in view.value:
            view.raw_value = view.value
            expansion = expand_references(
                view.value, environment=view.environment, path=view.path, resolve=reader.resolve, key=view.key
            )
            view.value, references = expansion.value, expansion.references
        _audit_read(
            scope,
            "secret.value_read",
            env.slug,
            folder.path,
            [view],
            {
                "version": wanted,
                "references": sorted(f"{e}:{p}:{k}" for e, p, k in references)[:100],
                **(
                    {"quarantined": [item.label for item in unresolved][:100]}
                    if (unresolved := quarantined_keys(reader.quarantined.values(), env.slug, folder.path))
                    else {}
                ),
            },
        )
    return view


@dataclass
class VersionView:
    version: int
    change: str
    actor: str
    created_at: datetime.datetime
    is_current: bool


def secret_versions(scope: ProjectScope, *, environment: str, path: str, key: str) -> list[VersionView]:
    keyring.root()  # sealed: raises SealedError
    key = secret_key_for_lookup(key)
    env, folder = folder_get(scope, environment, path)
    require(scope, "secrets.read", environment=env.slug, path=folder.path, resource=key, some_tags=True)
    secret = Secret.objects.filter(folder=folder, key=key, type=SecretType.SHARED, deleted_at__isnull=True).first()
    if secret is None or not scope.access.can(
        "secrets.read", environment=env.slug, path=folder.path, tags=list(secret.tags.values_list("slug", flat=True))
    ):
        raise NotFound(f"Secret '{key}' not found at {folder.path}")
    return [
        VersionView(
            version=row.version,
            change=row.change,
            actor=row.actor_label,
            created_at=row.created_at,
            is_current=row.version == secret.version,
        )
        for row in secret.versions.order_by("-version")
    ]


__all__ = [
    "PermissionDenied",
    "QuarantinedKey",
    "ReadResult",
    "SecretView",
    "VersionView",
    "current_plaintext",
    "secret_get",
    "secret_list",
    "secret_versions",
]
