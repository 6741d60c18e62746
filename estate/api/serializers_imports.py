"""Request and response shapes of the import API. Names and statuses only: no value is ever in a
response (plain values are compared in memory by the preview, never returned)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from secrets_app.api.fields import StrictSerializer


# --- requests ------------------------------------------------------------------------------------
class EstateImportListQuery(serializers.Serializer):
    resource = serializers.IntegerField(required=False, min_value=1, help_text="Only this resource's imports")


class EstateImportCreateRequest(StrictSerializer):
    resource = serializers.IntegerField(help_text="Id of a variable group or pipeline of the estate")
    project = serializers.CharField(help_text="Strongroom project slug or id")
    environment = serializers.CharField(help_text="Environment slug")
    path = serializers.CharField(required=False, default="/", help_text="Folder path (created when applied)")
    keys = serializers.DictField(
        child=serializers.CharField(), required=False, help_text="Azure DevOps name → Strongroom key (default: as is)"
    )
    skip = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Azure DevOps names to leave out"
    )


class EstateImportKeyVaultRequest(StrictSerializer):
    keyVaultConnection = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="For a Key Vault-linked group: a Strongroom Azure Key Vault connection (id or name) to read it with",
    )
    vaultUrl = serializers.CharField(
        required=False, allow_blank=True, help_text="Default: https://{vault}.vault.azure.net from the group"
    )


class EstateImportValuesRequest(StrictSerializer):
    values = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        help_text="Azure DevOps name (or key) → value",
    )
    csv = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="CSV text with the header name,value"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("values" in attrs) == ("csv" in attrs):
            raise serializers.ValidationError({"values": ["give either values or csv"]})
        return attrs


class EstateImportConvertRequest(StrictSerializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=120, help_text="Sync name")
    confirm = serializers.BooleanField(
        required=False, default=False, help_text="The imported names in the group are taken over by the sync"
    )


# --- responses -----------------------------------------------------------------------------------
class EstateImportItemSerializer(serializers.Serializer):
    adoName = serializers.CharField(source="ado_name")
    key = serializers.CharField()
    isSecret = serializers.BooleanField(source="is_secret")
    source = serializers.CharField()  # type: ignore[assignment]  # a field named "source"
    status = serializers.CharField()
    importedVersion = serializers.IntegerField(source="imported_version", allow_null=True)
    importedAt = serializers.DateTimeField(source="imported_at", allow_null=True)
    note = serializers.CharField()


class EstateImportResourceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField()
    adoProject = serializers.CharField(source="ado_project_name")


class EstateImportSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    resource = EstateImportResourceSerializer()
    project = serializers.CharField(source="project.slug")
    environment = serializers.CharField(source="environment.slug")
    path = serializers.CharField()
    status = serializers.CharField()
    counts = serializers.DictField(child=serializers.IntegerField())
    error = serializers.CharField()
    changeRequestId = serializers.IntegerField(source="change_request_id", allow_null=True)
    sync = serializers.UUIDField(source="sync.public_id", allow_null=True, default=None)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    appliedAt = serializers.DateTimeField(source="applied_at", allow_null=True)


class EstatePipelineYamlSerializer(serializers.Serializer):
    cli = serializers.CharField()
    oidc = serializers.CharField()


class EstateImportDetailSerializer(EstateImportSerializer):
    items = EstateImportItemSerializer(source="items.all", many=True)
    pipelineYaml = serializers.SerializerMethodField()

    @extend_schema_field(EstatePipelineYamlSerializer)
    def get_pipelineYaml(self, obj: Any) -> dict[str, str]:  # noqa: N802 - the field's name
        from estate.services.pipeline_yaml import import_pipeline_yaml

        return import_pipeline_yaml(obj)


class EstateImportListSerializer(serializers.Serializer):
    imports = EstateImportSerializer(many=True)


class EstateSuggestionProjectSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    slug = serializers.CharField()
    name = serializers.CharField()


class EstateImportSuggestionSerializer(serializers.Serializer):
    project = EstateSuggestionProjectSerializer(allow_null=True)
    environment = serializers.CharField(allow_null=True)
    path = serializers.CharField()
    keys = serializers.DictField(child=serializers.CharField())


class EstatePreviewRowSerializer(serializers.Serializer):
    adoName = serializers.CharField(source="ado_name")
    key = serializers.CharField()
    isSecret = serializers.BooleanField(source="is_secret")
    source = serializers.CharField()  # type: ignore[assignment]  # a field named "source"
    action = serializers.ChoiceField(choices=["create", "update", "unchanged", "needs_value", "skipped"])
    note = serializers.CharField()


class EstateImportPreviewSerializer(serializers.Serializer):
    rows = EstatePreviewRowSerializer(many=True)
    counts = serializers.DictField(child=serializers.IntegerField())
    vaultUrl = serializers.CharField(source="vault_url")
    vaultReadable = serializers.BooleanField(source="vault_readable", allow_null=True)
    vaultError = serializers.CharField(source="vault_error")
    otherKeys = serializers.ListField(source="other_keys", child=serializers.CharField())
    syncNote = serializers.CharField(source="sync_note")


class EstateImportSyncSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    status = serializers.CharField()


class EstateImportConvertResponse(serializers.Serializer):
    sync = EstateImportSyncSerializer()
    estateImport = EstateImportSerializer(source="estate_import")
