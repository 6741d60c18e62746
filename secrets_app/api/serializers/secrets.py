"""Secrets, versions, folders, commits, imports and tags.

Values appear only in responses to value reads (``value`` and ``comment`` are then present);
every other secret response — listings without values, and every write — omits both keys.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from secrets_app.api.fields import CommaList, ExactText, QueryBoolean, StrictSerializer
from secrets_app.models import SecretType


# --- query parameters ---------------------------------------------------------------------------
class FolderLocationQuery(serializers.Serializer):
    environment = serializers.CharField(help_text="Environment slug")
    path = serializers.CharField(required=False, default="/", help_text="Folder path, e.g. /backend/api")


class SecretLocationQuery(FolderLocationQuery):
    type = serializers.ChoiceField(choices=SecretType.values, default=SecretType.SHARED, help_text="shared or personal")


class SecretListQuery(FolderLocationQuery):
    include_values = QueryBoolean(default=False, help_text="true: return values (needs secrets.read_value)")
    expand = QueryBoolean(default=False, help_text="true: expand ${...} references in values")
    include_imports = QueryBoolean(default=False, help_text="true: add secrets of imported folders")
    recursive = QueryBoolean(default=False, help_text="true: include subfolders")
    tags = CommaList(required=False, help_text="Comma-separated tag slugs; secrets with any of them")


class SecretGetQuery(FolderLocationQuery):
    type = serializers.ChoiceField(
        choices=SecretType.values, required=False, help_text="Default: your personal override if any, else shared"
    )
    version = serializers.IntegerField(required=False, min_value=1, help_text="An earlier version's value")
    include_value = QueryBoolean(default=True, help_text="false: metadata only (needs only secrets.read)")
    expand = QueryBoolean(default=False, help_text="true: expand ${...} references")
    include_imports = QueryBoolean(default=False, help_text="true: look in imported folders too")


# --- secrets ------------------------------------------------------------------------------------
class SecretSerializer(serializers.Serializer):
    """A ``SecretView`` from a read. ``value``/``comment`` are present only when the value was read."""

    key = serializers.CharField()
    type = serializers.CharField()
    version = serializers.IntegerField()
    environment = serializers.CharField()
    path = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    ownerLabel = serializers.CharField(source="owner_label")
    purpose = serializers.CharField()
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    importedFrom = serializers.CharField(
        source="imported_from", allow_null=True, help_text="env:path of the import it came from"
    )
    value = serializers.CharField(required=False, help_text="Present only when the value was read")
    comment = serializers.CharField(required=False, allow_null=True, help_text="Present only when the value was read")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return secret_view_data(instance)


_DATETIME = serializers.DateTimeField()


def secret_view_data(view: Any) -> dict[str, Any]:
    """``SecretSerializer``'s representation built directly (the fields above are its schema): a
    list of 50 secrets is on the hot read path, and per-field serializer calls were half its time."""
    to_text = _DATETIME.to_representation
    data: dict[str, Any] = {
        "key": view.key,
        "type": view.type,
        "version": view.version,
        "environment": view.environment,
        "path": view.path,
        "tags": list(view.tags),
        "ownerLabel": view.owner_label,
        "purpose": view.purpose,
        "expiresAt": to_text(view.expires_at) if view.expires_at is not None else None,
        "createdAt": to_text(view.created_at),
        "updatedAt": to_text(view.updated_at),
        "importedFrom": view.imported_from,
    }
    if view.value is not None:
        data["value"] = view.value
        data["comment"] = view.comment
    return data


class SecretListSerializer(serializers.Serializer):
    secrets = SecretSerializer(many=True)
    importsSkipped = serializers.ListField(
        source="imports_skipped", child=serializers.CharField(), help_text="Imports you may not read (env:path)"
    )
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="One line per quarantined key left out of `secrets` (the list itself never fails for them)",
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "secrets": [secret_view_data(view) for view in instance.secrets],
            "importsSkipped": list(instance.imports_skipped),
            "warnings": list(instance.warnings),
        }


class SecretMetadataSerializer(serializers.Serializer):
    """A ``Secret`` row after a write: metadata only, never the value."""

    key = serializers.CharField()
    type = serializers.CharField()
    version = serializers.IntegerField()
    environment = serializers.CharField(source="environment.slug")
    path = serializers.CharField(source="folder.path")
    tags = serializers.SerializerMethodField()
    ownerLabel = serializers.CharField(source="owner_label")
    purpose = serializers.CharField()
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, secret: Any) -> list[str]:
        return sorted(tag.slug for tag in secret.tags.all())


class _SecretFieldsRequest(StrictSerializer):
    comment = ExactText(required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    ownerLabel = serializers.CharField(required=False, allow_blank=True, max_length=120)
    purpose = serializers.CharField(required=False, allow_blank=True, max_length=500)
    expiresAt = serializers.DateTimeField(required=False, allow_null=True)


class SecretBulkItem(_SecretFieldsRequest):
    key = ExactText()
    value = ExactText(required=False)


class SecretCreateRequest(SecretBulkItem):
    environment = serializers.CharField()
    path = serializers.CharField(required=False, default="/")
    type = serializers.ChoiceField(choices=SecretType.values, default=SecretType.SHARED)


class SecretBulkRequest(StrictSerializer):
    environment = serializers.CharField()
    path = serializers.CharField(required=False, default="/")
    secrets = SecretBulkItem(many=True, allow_empty=False)


class SecretBulkResultSerializer(serializers.Serializer):
    created = serializers.ListField(child=serializers.CharField())
    updated = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.ListField(child=serializers.CharField())


class SecretUpdateRequest(_SecretFieldsRequest):
    value = ExactText(required=False)
    newKey = ExactText(required=False, help_text="Rename the secret")
    version = serializers.IntegerField(
        required=False, min_value=0, help_text="Check-and-set: the version you read (or send If-Match)"
    )


class SecretRollbackRequest(StrictSerializer):
    environment = serializers.CharField()
    path = serializers.CharField(required=False, default="/")
    version = serializers.IntegerField(min_value=1)


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    change = serializers.CharField()
    actor = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")
    isCurrent = serializers.BooleanField(source="is_current")


class VersionListSerializer(serializers.Serializer):
    versions = VersionSerializer(many=True)


# --- commits ------------------------------------------------------------------------------------
class CommitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    message = serializers.CharField()
    actor = serializers.CharField(source="actor_label")
    createdAt = serializers.DateTimeField(source="created_at")
    secretCount = serializers.IntegerField(source="live_count", help_text="Live secrets the commit left")


class CommitRollbackRequest(StrictSerializer):
    environment = serializers.CharField()
    path = serializers.CharField(required=False, default="/")


# --- folders ------------------------------------------------------------------------------------
class FolderSerializer(serializers.Serializer):
    name = serializers.CharField()
    path = serializers.CharField()
    environment = serializers.CharField(source="environment.slug")
    createdAt = serializers.DateTimeField(source="created_at")


class FolderListSerializer(serializers.Serializer):
    folders = FolderSerializer(many=True)


class FolderCreateRequest(StrictSerializer):
    environment = serializers.CharField()
    path = serializers.CharField(required=False, default="/", help_text="The parent folder")
    name = serializers.CharField()


class FolderRenameRequest(StrictSerializer):
    name = serializers.CharField()


# --- imports ------------------------------------------------------------------------------------
class ImportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    environment = serializers.CharField(source="folder.environment.slug")
    path = serializers.CharField(source="folder.path")
    sourceEnvironment = serializers.CharField(source="source_environment.slug")
    sourcePath = serializers.CharField(source="source_path")
    position = serializers.IntegerField()


class ImportListSerializer(serializers.Serializer):
    imports = ImportSerializer(many=True)


class ImportCreateRequest(StrictSerializer):
    environment = serializers.CharField()
    path = serializers.CharField(required=False, default="/")
    sourceEnvironment = serializers.CharField()
    sourcePath = serializers.CharField(required=False, default="/")


class ImportReorderRequest(StrictSerializer):
    environment = serializers.CharField()
    path = serializers.CharField(required=False, default="/")
    order = serializers.ListField(child=serializers.IntegerField(), help_text="Every import id of the folder, once")


# --- tags ---------------------------------------------------------------------------------------
class TagSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    color = serializers.CharField()


class TagListSerializer(serializers.Serializer):
    tags = TagSerializer(many=True)


class TagCreateRequest(StrictSerializer):
    slug = serializers.CharField()
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    color = serializers.CharField(required=False, allow_blank=True, default="", max_length=16)
