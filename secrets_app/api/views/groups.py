"""Groups: an organization's groups and their people (org admins), and groups' project roles."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.authentication import IsPerson
from secrets_app.api.base import ApiView
from secrets_app.api.schema import PROJECT, errors
from secrets_app.api.serializers.groups import (
    GroupCreateRequest,
    GroupDetailSerializer,
    GroupListSerializer,
    GroupMemberAddRequest,
    GroupMemberSerializer,
    GroupProjectRoleSerializer,
    GroupSerializer,
    GroupUpdateRequest,
    ProjectGroupAddRequest,
    ProjectGroupListSerializer,
    ProjectGroupSerializer,
    ProjectGroupUpdateRequest,
)
from secrets_app.models import GroupProjectMembership
from secrets_app.selectors.groups import GroupDetail, group_detail, group_list, project_group_list
from secrets_app.services import groups as group_services
from secrets_app.services.people import organization_get_for_principal

ORGANIZATION = OpenApiParameter(
    "organization", OpenApiTypes.STR, OpenApiParameter.PATH, description="Organization slug"
)
GROUP = OpenApiParameter("group", OpenApiTypes.STR, OpenApiParameter.PATH, description="Group id (UUID) or slug")
USER_ID = OpenApiParameter("user_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The person's user id")
TAGS = ["groups"]


def _detail(detail: GroupDetail) -> dict[str, Any]:
    return {
        **GroupSerializer(detail.group).data,
        "memberCount": len(detail.members),
        "projectCount": len(detail.projects),
        "members": GroupMemberSerializer(detail.members, many=True).data,
        "projects": GroupProjectRoleSerializer(detail.projects, many=True).data,
    }


def _project_group(membership: GroupProjectMembership) -> dict[str, Any]:
    membership.member_count = membership.group.memberships.count()  # type: ignore[attr-defined]
    return dict(ProjectGroupSerializer(membership).data)


@extend_schema(tags=TAGS, parameters=[ORGANIZATION])
class GroupListApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(
        operation_id="groups_list",
        responses={200: GroupListSerializer, **errors(403, 404)},
        description="Org admins only. Every group with its source (local, idp, scim) and counts.",
    )
    def get(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        return Response(GroupListSerializer({"groups": group_list(principal=self.principal, organization=org)}).data)

    @extend_schema(
        operation_id="groups_create",
        request=GroupCreateRequest,
        responses={201: GroupSerializer, **errors(400, 403, 404, 409)},
        description="Org admins only. A local group, or (source=idp, externalId) a mapped identity-provider "
        "group whose people follow the groups claim at each sign-in.",
    )
    def post(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        data = self.parse(GroupCreateRequest, request.data)
        group = group_services.group_create(
            principal=self.principal,
            organization=org,
            slug=data["slug"],
            name=data["name"],
            description=data["description"],
            source=data["source"],
            external_id=data["externalId"],
        )
        return Response(GroupSerializer(group).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(operation_id="groups_get", responses={200: GroupDetailSerializer, **errors(403, 404)}),
    patch=extend_schema(
        operation_id="groups_update",
        request=GroupUpdateRequest,
        responses={200: GroupSerializer, **errors(400, 403, 404, 409)},
        description="Rename or describe a group; externalId remaps an IdP group.",
    ),
    delete=extend_schema(
        operation_id="groups_delete",
        responses={204: None, **errors(403, 404)},
        description="Its people lose the project roles they held through it at once.",
    ),
)
@extend_schema(tags=TAGS, parameters=[ORGANIZATION, GROUP])
class GroupDetailApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    def get(self, request: Request, organization: str, group: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        return Response(_detail(group_detail(principal=self.principal, organization=org, group_ref=group)))

    def patch(self, request: Request, organization: str, group: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        data = self.parse(GroupUpdateRequest, request.data)
        updated = group_services.group_update(
            principal=self.principal,
            organization=org,
            group_ref=group,
            name=data.get("name"),
            description=data.get("description"),
            external_id=data.get("externalId"),
        )
        return Response(GroupSerializer(updated).data)

    def delete(self, request: Request, organization: str, group: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        group_services.group_delete(principal=self.principal, organization=org, group_ref=group)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=TAGS, parameters=[ORGANIZATION, GROUP])
class GroupMemberListApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(
        operation_id="groups_members_add",
        request=GroupMemberAddRequest,
        responses={201: GroupMemberSerializer, **errors(400, 403, 404, 409)},
        description="Local groups only: the people of IdP and SCIM groups follow the directory (409).",
    )
    def post(self, request: Request, organization: str, group: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        data = self.parse(GroupMemberAddRequest, request.data)
        membership = group_services.group_member_add(
            principal=self.principal,
            organization=org,
            group_ref=group,
            user_id=data.get("userId"),
            email=data.get("email", ""),
        )
        return Response(GroupMemberSerializer(membership).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS, parameters=[ORGANIZATION, GROUP, USER_ID])
class GroupMemberDetailApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(
        operation_id="groups_members_remove",
        responses={204: None, **errors(403, 404, 409)},
        description="Local groups only: the people of IdP and SCIM groups follow the directory (409).",
    )
    def delete(self, request: Request, organization: str, group: str, user_id: int) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        group_services.group_member_remove(principal=self.principal, organization=org, group_ref=group, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=TAGS, parameters=[PROJECT])
class ProjectGroupListApi(ApiView):
    @extend_schema(operation_id="project_groups_list", responses={200: ProjectGroupListSerializer, **errors(403, 404)})
    def get(self, request: Request, project: str) -> Response:
        return Response(ProjectGroupListSerializer({"groups": project_group_list(self.scope(project))}).data)

    @extend_schema(
        operation_id="project_groups_add",
        request=ProjectGroupAddRequest,
        responses={201: ProjectGroupSerializer, **errors(400, 403, 404, 409)},
        description="Give a group of the project's organization a role here; its people inherit it. "
        "Nobody grants beyond their own rights or changes a group they belong to.",
    )
    def post(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        data = self.parse(ProjectGroupAddRequest, request.data)
        membership = group_services.group_project_role_add(scope=scope, group_ref=data["groupId"], role=data["role"])
        return Response(_project_group(membership), status=status.HTTP_201_CREATED)


@extend_schema_view(
    patch=extend_schema(
        operation_id="project_groups_update",
        request=ProjectGroupUpdateRequest,
        responses={200: ProjectGroupSerializer, **errors(400, 403, 404)},
    ),
    delete=extend_schema(operation_id="project_groups_remove", responses={204: None, **errors(403, 404)}),
)
@extend_schema(tags=TAGS, parameters=[PROJECT, GROUP])
class ProjectGroupDetailApi(ApiView):
    def patch(self, request: Request, project: str, group: str) -> Response:
        scope = self.scope(project)
        data = self.parse(ProjectGroupUpdateRequest, request.data)
        membership = group_services.group_project_role_update(scope=scope, group_ref=group, role=data["role"])
        return Response(_project_group(membership))

    def delete(self, request: Request, project: str, group: str) -> Response:
        group_services.group_project_role_remove(scope=self.scope(project), group_ref=group)
        return Response(status=status.HTTP_204_NO_CONTENT)
