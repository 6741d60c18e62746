"""Projects, environments, organizations and the caller (``/me/``)."""

from __future__ import annotations

from rest_framework import serializers

from secrets_app.api.fields import StrictSerializer


# --- output -------------------------------------------------------------------------------------
class EnvironmentSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    position = serializers.IntegerField()
    revealMarksDue = serializers.BooleanField(source="reveal_marks_due")
    revealRotationHours = serializers.IntegerField(source="reveal_rotation_hours")


class EnvironmentListSerializer(serializers.Serializer):
    environments = EnvironmentSerializer(many=True)


class ProjectSerializer(serializers.Serializer):
    """A ``ProjectView``: the project as the caller sees it (their role, their environments)."""

    id = serializers.UUIDField(source="project.public_id")
    slug = serializers.CharField(source="project.slug")
    name = serializers.CharField(source="project.name")
    description = serializers.CharField(source="project.description")
    organization = serializers.CharField(source="project.organization.slug")
    environments = EnvironmentSerializer(many=True)
    role = serializers.CharField(help_text="Your role in the project")
    createdAt = serializers.DateTimeField(source="project.created_at")


class ProjectListSerializer(serializers.Serializer):
    projects = ProjectSerializer(many=True)


class OrganizationMembershipSerializer(serializers.Serializer):
    slug = serializers.CharField(source="organization.slug")
    name = serializers.CharField(source="organization.name")
    role = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    username = serializers.CharField()
    organizations = OrganizationMembershipSerializer(many=True)


# --- input --------------------------------------------------------------------------------------
class ProjectCreateRequest(StrictSerializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True, default="")
    environments = serializers.ListField(child=serializers.CharField(), required=False, allow_empty=False)
    organization = serializers.CharField(
        required=False, allow_blank=True, help_text="Organization slug; defaults to your only one"
    )


class ProjectUpdateRequest(StrictSerializer):
    name = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class EnvironmentCreateRequest(StrictSerializer):
    slug = serializers.CharField()
    name = serializers.CharField(required=False, allow_blank=True, default="")
    position = serializers.IntegerField(required=False, min_value=0)


class EnvironmentUpdateRequest(StrictSerializer):
    slug = serializers.CharField(required=False)
    name = serializers.CharField(required=False, allow_blank=True)
    revealMarksDue = serializers.BooleanField(
        required=False,
        help_text="true: a person revealing a value here in the UI marks it due for rotation, or queues the "
        "rotation that owns it within revealRotationHours",
    )
    revealRotationHours = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=168,
        help_text="With revealMarksDue: a reveal of a secret a rotation owns runs that rotation within this many "
        "hours (0: at once; default 24)",
    )


class EnvironmentReorderRequest(StrictSerializer):
    order = serializers.ListField(
        child=serializers.CharField(), help_text="Every environment slug, once, in the new order"
    )
