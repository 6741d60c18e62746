"""Request and response bodies of the dynamic secrets API. Root credentials appear only in requests
(write-only): a response names the secret fields that hold a value, never their values. A leased
password appears in exactly one response: the lease creation's ``data``."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from dynamic.models import LeaseStatus
from dynamic.providers.registry import PROVIDERS
from secrets_app.api.fields import StrictSerializer
from secrets_app.plugins import kinds_described

TTL_HELP = "Seconds, or a duration such as 30m, 1h, 7d (1 minute to 10 years)"


class TtlField(serializers.Field):
    """An integer number of seconds or an ``ms``-style text; checked by the services."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int | str):
            raise serializers.ValidationError("must be a number of seconds or a duration such as 1h")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class StatementsSerializer(StrictSerializer):
    creation = serializers.ListField(
        child=serializers.CharField(max_length=10000, trim_whitespace=False), required=False
    )
    renewal = serializers.ListField(
        child=serializers.CharField(max_length=10000, trim_whitespace=False), required=False
    )
    revocation = serializers.ListField(
        child=serializers.CharField(max_length=10000, trim_whitespace=False), required=False
    )


class DynamicSecretCreateRequest(StrictSerializer):
    environment = serializers.CharField(max_length=64)
    path = serializers.CharField(max_length=1024, default="/")
    name = serializers.CharField(max_length=64)
    provider = serializers.CharField(
        max_length=32, help_text=kinds_described("One of: ", lambda: ", ".join(PROVIDERS.modules))
    )
    config = serializers.DictField(help_text="The provider's settings (host, port, database, username, …)")
    credentials = serializers.DictField(
        child=serializers.CharField(trim_whitespace=False), write_only=True, help_text="Root password; never returned"
    )
    defaultTTL = TtlField(default="1h", help_text=TTL_HELP)  # noqa: N815
    maxTTL = TtlField(required=False, allow_null=True, help_text=TTL_HELP + "; null: no cap")  # noqa: N815
    usernameTemplate = serializers.CharField(max_length=255, required=False, allow_blank=True)  # noqa: N815
    passwordRequirements = serializers.DictField(required=False)  # noqa: N815
    statements = StatementsSerializer(
        required=False, help_text="Templates; a kind left out uses the provider's default"
    )


class DynamicSecretUpdateRequest(StrictSerializer):
    name = serializers.CharField(max_length=64, required=False)
    config = serializers.DictField(required=False)
    credentials = serializers.DictField(
        child=serializers.CharField(trim_whitespace=False), required=False, write_only=True
    )
    defaultTTL = TtlField(required=False, help_text=TTL_HELP)  # noqa: N815
    maxTTL = TtlField(required=False, allow_null=True, help_text=TTL_HELP + "; null or 0: no cap")  # noqa: N815
    usernameTemplate = serializers.CharField(max_length=255, required=False, allow_blank=True)  # noqa: N815
    passwordRequirements = serializers.DictField(required=False)  # noqa: N815
    statements = StatementsSerializer(required=False)


class DynamicSecretListQuery(StrictSerializer):
    environment = serializers.CharField(max_length=64)
    path = serializers.CharField(max_length=1024, default="/")


class DynamicSecretDeleteQuery(StrictSerializer):
    force = serializers.BooleanField(
        default=False, help_text="Delete at once and leave live leases to their snapshot and expiry (audited)"
    )


class DynamicSecretSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    provider = serializers.CharField()
    environment = serializers.CharField(source="environment.slug")
    path = serializers.CharField(source="folder.path")
    config = serializers.DictField()
    credentialNames = serializers.ListField(child=serializers.CharField(), source="credential_names")  # noqa: N815
    defaultTTL = serializers.IntegerField(source="default_ttl", help_text="Seconds")  # noqa: N815
    maxTTL = serializers.IntegerField(source="max_ttl", allow_null=True, help_text="Seconds; null: no cap")  # noqa: N815
    usernameTemplate = serializers.CharField(source="username_template")  # noqa: N815
    passwordRequirements = serializers.DictField(source="password_requirements")  # noqa: N815
    statements = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    version = serializers.IntegerField()
    liveLeases = serializers.SerializerMethodField()  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815
    updatedAt = serializers.DateTimeField(source="updated_at")  # noqa: N815
    lastTestedAt = serializers.DateTimeField(source="last_tested_at", allow_null=True)  # noqa: N815

    def get_liveLeases(self, secret: Any) -> int:  # noqa: N802
        counted = getattr(secret, "live_leases", None)
        if counted is not None:
            return int(counted)
        from dynamic.models import LIVE_STATUSES

        return int(secret.leases.filter(status__in=LIVE_STATUSES).count())


class DynamicSecretListSerializer(serializers.Serializer):
    dynamicSecrets = DynamicSecretSerializer(many=True)  # noqa: N815


class DynamicSecretDeletedSerializer(serializers.Serializer):
    deleted = serializers.BooleanField()
    leasesRevoked = serializers.IntegerField()  # noqa: N815
    leasesLeftInPlace = serializers.IntegerField()  # noqa: N815


class ConsumerSerializer(serializers.Serializer):
    type = serializers.CharField(source="actor_type")
    id = serializers.CharField(source="actor_id")
    label = serializers.CharField(source="actor_label")  # type: ignore[assignment]
    clientIp = serializers.CharField(source="client_ip")  # noqa: N815


class AdoRunSerializer(serializers.Serializer):
    """The Azure DevOps run a lease is bound to (null: none)."""

    organization = serializers.CharField(source="ado_org_url")
    projectId = serializers.CharField(source="ado_project_id")  # noqa: N815
    buildId = serializers.IntegerField(source="ado_build_id")  # noqa: N815
    state = serializers.CharField(source="ado_run_state", help_text="As last seen: inProgress, completed…")
    boundBy = serializers.CharField(  # noqa: N815
        source="ado_bound_by", help_text="oidc (the pipeline token's run_id) or access_token (System.AccessToken)"
    )

    def to_representation(self, instance: Any) -> Any:
        if getattr(instance, "ado_build_id", None) is None:
            return None
        return super().to_representation(instance)


class LeaseSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    version = serializers.IntegerField()
    status = serializers.ChoiceField(choices=LeaseStatus.choices)
    expireAt = serializers.DateTimeField(source="expire_at")  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815
    updatedAt = serializers.DateTimeField(source="updated_at")  # noqa: N815
    externalEntityId = serializers.CharField(source="username", help_text="The database user name")  # noqa: N815
    dynamicSecretId = serializers.UUIDField(source="dynamic_secret_public_id")  # noqa: N815
    dynamicSecretName = serializers.CharField(source="dynamic_secret_name")  # noqa: N815
    provider = serializers.CharField()
    environment = serializers.CharField(source="environment_slug")
    path = serializers.CharField()
    revokeAttempts = serializers.IntegerField(source="revoke_attempts")  # noqa: N815
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)  # noqa: N815
    lastError = serializers.CharField(  # noqa: N815
        source="last_error", help_text="Sanitised reason of the last failed revocation; never a credential"
    )
    revokedAt = serializers.DateTimeField(source="revoked_at", allow_null=True)  # noqa: N815
    forced = serializers.BooleanField(help_text="Revoked by force: the database user may still exist")
    consumer = ConsumerSerializer(source="*")
    adoRun = AdoRunSerializer(source="*", allow_null=True, help_text="The Azure DevOps run it lives no longer than")  # noqa: N815


class LeaseListSerializer(serializers.Serializer):
    leases = LeaseSerializer(many=True)


class LeaseIssuedSerializer(serializers.Serializer):
    lease = LeaseSerializer()
    dynamicSecret = DynamicSecretSerializer()  # noqa: N815
    data = serializers.DictField(  # type: ignore[assignment]
        child=serializers.CharField(),
        help_text="The credentials (DB_USERNAME, DB_PASSWORD): shown in this answer only, never stored",
    )


class LeaseEnvelopeSerializer(serializers.Serializer):
    lease = LeaseSerializer()


class LeaseCreateRequest(StrictSerializer):
    ttl = TtlField(required=False, allow_null=True, help_text=TTL_HELP + "; default: the dynamic secret's defaultTTL")
    adoRun = serializers.CharField(  # noqa: N815
        required=False,
        allow_blank=True,
        max_length=400,
        help_text="Bind the lease to an Azure DevOps run: ORG/PROJECT/BUILD_ID (ORG a name or "
        "$(System.CollectionUri)); needs adoAccessToken. The lease is revoked when the run completes.",
    )
    adoAccessToken = serializers.CharField(  # noqa: N815
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=8192,
        trim_whitespace=True,
        help_text="The run's System.AccessToken, the proof that adoRun is in progress: used once, never stored",
    )


class LeaseRenewRequest(StrictSerializer):
    ttl = TtlField(required=False, allow_null=True, help_text=TTL_HELP + "; added to the current expiry")


class EmptyRequest(StrictSerializer):
    pass


class LeaseListQuery(StrictSerializer):
    environment = serializers.CharField(max_length=64, required=False)
    path = serializers.CharField(max_length=1024, required=False)
    status = serializers.ChoiceField(choices=[*LeaseStatus.values, "live"], required=False)


class TargetAllowlistSerializer(serializers.Serializer):
    entries = serializers.ListField(child=serializers.CharField(), help_text="Host names, IP addresses or CIDRs")


class TargetAllowlistRequest(StrictSerializer):
    entries = serializers.ListField(child=serializers.CharField(max_length=253), max_length=200)
