"""Request and response bodies of the audit streams API. Credentials appear only in requests
(write-only): a response names the secret fields that hold a value (``credentialNames``), never
their values."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.streams.registry import STREAM_KINDS
from audit.streams.selectors import StreamDisplayState, stream_status
from audit.streams.services import (
    LAG_ALERT_MAX_SECONDS,
    LAG_ALERT_MIN_SECONDS,
    START_AT_BEGINNING,
    START_AT_END,
)
from secrets_app.api.fields import StrictSerializer
from secrets_app.plugins import registered_kind_field

STATES = [
    StreamDisplayState.ACTIVE,
    StreamDisplayState.FAILING,
    StreamDisplayState.BACKING_OFF,
    StreamDisplayState.PAUSED,
]


class StreamStatusSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=STATES,
        help_text="active; failing (the last attempt failed, the next is due); backing_off (failed, waiting "
        "until backingOffUntil); paused",
    )
    lagEvents = serializers.IntegerField(  # noqa: N815
        source="lag_events", help_text="Events of the organization not delivered yet (after the cursor)"
    )
    lagEventsCapped = serializers.BooleanField(  # noqa: N815
        source="lag_events_capped", help_text="True when lagEvents is a lower bound (counting stopped)"
    )
    lagSeconds = serializers.IntegerField(  # noqa: N815
        source="lag_seconds", help_text="Age of the oldest undelivered event (0 when caught up)"
    )
    oldestUndeliveredEventId = serializers.IntegerField(source="oldest_undelivered_id", allow_null=True)  # noqa: N815
    lastSuccessAt = serializers.DateTimeField(source="last_success_at", allow_null=True)  # noqa: N815
    lastAttemptAt = serializers.DateTimeField(source="last_attempt_at", allow_null=True)  # noqa: N815
    lastError = serializers.CharField(  # noqa: N815
        source="last_error", help_text="Sanitised: a status, an exception class, a short reason; never a credential"
    )
    lastErrorAt = serializers.DateTimeField(source="last_error_at", allow_null=True)  # noqa: N815
    consecutiveFailures = serializers.IntegerField(source="consecutive_failures")  # noqa: N815
    backingOffUntil = serializers.DateTimeField(source="backing_off_until", allow_null=True)  # noqa: N815
    deliveredCount = serializers.IntegerField(source="delivered_count")  # noqa: N815
    parkedCount = serializers.IntegerField(source="parked_count", help_text="Events parked now (see /parked/)")  # noqa: N815
    cursorEventId = serializers.IntegerField(  # noqa: N815
        source="cursor_event_id", help_text="Every event of the organization up to this id was delivered or parked"
    )
    lagAlertActive = serializers.BooleanField(source="lag_alert_active")  # noqa: N815


class StreamSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    organization = serializers.CharField(source="organization.slug")
    kind = serializers.CharField()
    name = serializers.CharField()
    config = serializers.DictField(help_text="Non-secret settings of the kind")
    credentialNames = serializers.ListField(  # noqa: N815
        child=serializers.CharField(),
        source="credential_names",
        help_text="Which secret fields hold a value. Values are never returned.",
    )
    lagAlertSeconds = serializers.IntegerField(source="lag_alert_seconds")  # noqa: N815
    createdBy = serializers.SerializerMethodField()  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815
    updatedAt = serializers.DateTimeField(source="updated_at")  # noqa: N815
    lastTestedAt = serializers.DateTimeField(source="last_tested_at", allow_null=True)  # noqa: N815
    lastTestStatus = serializers.CharField(source="last_test_status")  # noqa: N815
    lastTestMessage = serializers.CharField(source="last_test_message")  # noqa: N815
    status = serializers.SerializerMethodField()

    def get_createdBy(self, obj: Any) -> str:  # noqa: N802
        return obj.created_by.email if obj.created_by_id else ""

    @extend_schema_field(StreamStatusSerializer)
    def get_status(self, obj: Any) -> dict[str, Any]:
        return dict(StreamStatusSerializer(stream_status(obj)).data)


class StreamListSerializer(serializers.Serializer):
    streams = StreamSerializer(many=True)


class StreamCreateRequest(StrictSerializer):
    kind = registered_kind_field(STREAM_KINDS)
    name = serializers.CharField(max_length=120)
    config = serializers.DictField(required=False, default=dict, help_text="Non-secret settings of the kind")
    credentials = serializers.DictField(
        child=serializers.CharField(trim_whitespace=False, allow_blank=True),
        required=False,
        default=dict,
        help_text="Secret fields of the kind (write-only, never returned)",
    )
    lagAlertSeconds = serializers.IntegerField(  # noqa: N815
        required=False,
        default=900,
        min_value=LAG_ALERT_MIN_SECONDS,
        max_value=LAG_ALERT_MAX_SECONDS,
        help_text="Notify the organization's admins when the oldest undelivered event is older than this",
    )
    start = serializers.ChoiceField(
        choices=[START_AT_END, START_AT_BEGINNING],
        required=False,
        default=START_AT_END,
        help_text="end (default): deliver events from now on; beginning: every event the log still holds",
    )
    test = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Send a test event first and refuse to save when it fails (default true)",
    )


class StreamUpdateRequest(StrictSerializer):
    name = serializers.CharField(required=False, max_length=120)
    config = serializers.DictField(required=False, help_text="Replaces the non-secret settings as a whole")
    credentials = serializers.DictField(
        child=serializers.CharField(trim_whitespace=False, allow_blank=True),
        required=False,
        help_text="Secret fields to replace; a field left out (or empty) keeps its stored value",
    )
    lagAlertSeconds = serializers.IntegerField(  # noqa: N815
        required=False, min_value=LAG_ALERT_MIN_SECONDS, max_value=LAG_ALERT_MAX_SECONDS
    )
    test = serializers.BooleanField(
        required=False, default=True, help_text="Test new settings first and refuse to save when that fails"
    )


class StreamReplayRequest(StrictSerializer):
    fromEventId = serializers.IntegerField(  # noqa: N815
        required=False, min_value=1, help_text="Deliver again from this event id (the first at or after it)"
    )
    since = serializers.DateTimeField(
        required=False, help_text="Deliver again from the first event at or after this time (ISO 8601 with zone)"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("fromEventId" in attrs) == ("since" in attrs):
            raise serializers.ValidationError({"fromEventId": ["give either fromEventId or since"]})
        return attrs


class EmptyRequest(StrictSerializer):
    """No fields (an empty JSON object, or no body)."""


class StreamTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField(help_text="A safe reason: never a credential or a response body")


class ParkedEventSerializer(serializers.Serializer):
    eventId = serializers.IntegerField(source="event_id")  # noqa: N815
    action = serializers.CharField(help_text="Empty when the event was purged since")
    occurredAt = serializers.DateTimeField(source="occurred_at", allow_null=True)  # noqa: N815
    status = serializers.IntegerField(allow_null=True, help_text="The destination's HTTP status, when there was one")
    error = serializers.CharField()
    parkedAt = serializers.DateTimeField(source="parked_at")  # noqa: N815


class ParkedEventListSerializer(serializers.Serializer):
    parked = ParkedEventSerializer(many=True)


# DRF's metaclass takes declared fields off the class, so names such as ``label``, ``required`` and
# ``fields`` do not shadow the Field/Serializer attributes at run time (mypy cannot know).
class KindFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    group = serializers.ChoiceField(choices=["config", "credentials"], help_text="Where the value goes")
    label = serializers.CharField()  # type: ignore[assignment]
    secret = serializers.BooleanField(help_text="Write-only: sealed at rest, never returned")
    required = serializers.BooleanField()  # type: ignore[assignment]
    input = serializers.CharField(help_text="text, url, password, choice, bool, int, textarea, email")
    choices = serializers.ListField(child=serializers.CharField())
    help = serializers.CharField()
    placeholder = serializers.CharField()
    destination = serializers.BooleanField(help_text="Checked by the outbound guard when saved (public address)")


class KindSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    description = serializers.CharField()
    fields = KindFieldSerializer(many=True)  # type: ignore[assignment]


class KindListSerializer(serializers.Serializer):
    kinds = KindSerializer(many=True)
