"""Organization people and the caller's password."""

from __future__ import annotations

from rest_framework import serializers

from secrets_app.api.fields import StrictSerializer
from secrets_app.models import OrgRole


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="user.id", help_text="The person's user id")
    email = serializers.EmailField(source="user.email")
    role = serializers.CharField(help_text="Organization role: admin or member")
    isActive = serializers.BooleanField(source="user.is_active")
    createdAt = serializers.DateTimeField(source="created_at")


class PersonListSerializer(serializers.Serializer):
    people = PersonSerializer(many=True)


class PersonAddRequest(StrictSerializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=OrgRole.values, default=OrgRole.MEMBER)
    password = serializers.CharField(
        required=False,
        write_only=True,
        min_length=12,
        trim_whitespace=False,
        help_text="Omit to generate one (returned once). At least 12 characters and not a common password",
    )


class PersonCreatedSerializer(PersonSerializer):
    temporaryPassword = serializers.CharField(
        allow_null=True, help_text="The generated password, shown only in this response (null when you set one)"
    )


class PersonUpdateRequest(StrictSerializer):
    role = serializers.ChoiceField(choices=OrgRole.values)


class PasswordChangeRequest(StrictSerializer):
    currentPassword = serializers.CharField(write_only=True)
    newPassword = serializers.CharField(
        write_only=True, min_length=12, trim_whitespace=False, help_text="At least 12 characters, not a common password"
    )


class PersonUnlockRequest(StrictSerializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=500, default="", help_text="Kept in the audit log"
    )


class PersonDeactivateRequest(StrictSerializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=500, default="", help_text="Kept in the audit log"
    )
