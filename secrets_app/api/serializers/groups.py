"""Groups of an organization, their people and their project roles."""

from __future__ import annotations

from rest_framework import serializers

from secrets_app.api.fields import StrictSerializer
from secrets_app.models import GroupSource

MAX_ID = 2**31 - 1


class GroupSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", help_text="The group's id (its slug works in URLs too)")
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    source = serializers.ChoiceField(
        choices=GroupSource.values, help_text="local (managed here), idp (sign-in claims) or scim (provisioning)"
    )
    externalId = serializers.CharField(source="external_id", help_text="The directory's group id; empty when local")
    memberCount = serializers.IntegerField(source="member_count", required=False)
    projectCount = serializers.IntegerField(source="project_count", required=False)
    createdAt = serializers.DateTimeField(source="created_at")


class GroupListSerializer(serializers.Serializer):
    groups = GroupSerializer(many=True)


class GroupMemberSerializer(serializers.Serializer):
    userId = serializers.IntegerField(source="user.id")
    email = serializers.EmailField(source="user.email")
    source = serializers.CharField(help_text="Who put them there: local (an admin), idp or scim")
    createdAt = serializers.DateTimeField(source="created_at")


class GroupProjectRoleSerializer(serializers.Serializer):
    project = serializers.CharField(source="project.slug")
    projectId = serializers.UUIDField(source="project.public_id")
    role = serializers.CharField(source="role_slug")


class GroupDetailSerializer(GroupSerializer):
    members = GroupMemberSerializer(many=True)
    projects = GroupProjectRoleSerializer(many=True)


class GroupCreateRequest(StrictSerializer):
    slug = serializers.CharField(max_length=64, help_text="Lowercase letters, digits and '-'")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    source = serializers.ChoiceField(
        choices=[GroupSource.LOCAL.value, GroupSource.IDP.value],
        default=GroupSource.LOCAL.value,
        help_text="local, or idp to map an identity-provider group (SCIM groups come from provisioning)",
    )
    externalId = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        default="",
        help_text="For source=idp: the directory's group id (the Entra object id sent in the groups claim)",
    )


class GroupUpdateRequest(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    externalId = serializers.CharField(max_length=255, required=False, help_text="IdP groups only: remap")


class GroupMemberAddRequest(StrictSerializer):
    userId = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    email = serializers.EmailField(required=False)

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        if "userId" not in attrs and "email" not in attrs:
            raise serializers.ValidationError({"userId": ["give userId or email"]})
        return attrs


class ProjectGroupSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="group.public_id")
    slug = serializers.CharField(source="group.slug")
    name = serializers.CharField(source="group.name")
    source = serializers.CharField(source="group.source")
    role = serializers.CharField(source="role_slug")
    memberCount = serializers.IntegerField(source="member_count", required=False)
    createdAt = serializers.DateTimeField(source="created_at")


class ProjectGroupListSerializer(serializers.Serializer):
    groups = ProjectGroupSerializer(many=True)


class ProjectGroupAddRequest(StrictSerializer):
    groupId = serializers.CharField(max_length=64, help_text="The group's id (UUID) or slug")
    role = serializers.CharField(max_length=64)


class ProjectGroupUpdateRequest(StrictSerializer):
    role = serializers.CharField(max_length=64)
