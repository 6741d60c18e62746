"""Projects and environments."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.base import ApiView
from secrets_app.api.schema import ENVIRONMENT, PROJECT, errors
from secrets_app.api.serializers.projects import (
    EnvironmentCreateRequest,
    EnvironmentListSerializer,
    EnvironmentReorderRequest,
    EnvironmentSerializer,
    EnvironmentUpdateRequest,
    ProjectCreateRequest,
    ProjectListSerializer,
    ProjectSerializer,
    ProjectUpdateRequest,
)
from secrets_app.selectors.access import project_scope_for
from secrets_app.selectors.organizations import organization_for_new_project
from secrets_app.selectors.projects import environment_list, project_view, project_view_list
from secrets_app.services.projects import (
    DEFAULT_ENVIRONMENTS,
    environment_create,
    environment_delete,
    environment_reorder,
    environment_update,
    project_create,
    project_delete,
    project_update,
)

TAGS = ["projects"]


class ProjectListApi(ApiView):
    @extend_schema(operation_id="projects_list", tags=TAGS, responses={200: ProjectListSerializer, **errors()})
    def get(self, request: Request) -> Response:
        return Response(ProjectListSerializer({"projects": project_view_list(self.principal)}).data)

    @extend_schema(
        operation_id="projects_create",
        tags=TAGS,
        request=ProjectCreateRequest,
        responses={201: ProjectSerializer, **errors(400, 404, 409)},
        description="Create a project with its environments (default dev, staging, prod); you become its admin. "
        "`organization` is required when you belong to several organizations.",
    )
    def post(self, request: Request) -> Response:
        data = self.parse(ProjectCreateRequest, request.data)
        organization = organization_for_new_project(self.principal, data.get("organization") or None)
        project = project_create(
            principal=self.principal,
            organization=organization,
            slug=data["slug"],
            name=data["name"],
            description=data["description"],
            environments=data.get("environments") or DEFAULT_ENVIRONMENTS,
        )
        scope = project_scope_for(self.principal, project)
        return Response(ProjectSerializer(project_view(scope)).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(operation_id="projects_retrieve", responses={200: ProjectSerializer, **errors(404)}),
    patch=extend_schema(
        operation_id="projects_update",
        request=ProjectUpdateRequest,
        responses={200: ProjectSerializer, **errors(400, 403, 404)},
    ),
    delete=extend_schema(operation_id="projects_delete", responses={204: None, **errors(403, 404)}),
)
@extend_schema(tags=TAGS, parameters=[PROJECT])
class ProjectDetailApi(ApiView):
    def get(self, request: Request, project: str) -> Response:
        return Response(ProjectSerializer(project_view(self.scope(project))).data)

    def patch(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        data = self.parse(ProjectUpdateRequest, request.data)
        project_update(scope=scope, name=data.get("name"), description=data.get("description"))
        return Response(ProjectSerializer(project_view(scope)).data)

    def delete(self, request: Request, project: str) -> Response:
        project_delete(scope=self.scope(project))
        return Response(status=status.HTTP_204_NO_CONTENT)


ENV_TAGS = ["environments"]


@extend_schema(tags=ENV_TAGS, parameters=[PROJECT])
class EnvironmentListApi(ApiView):
    @extend_schema(
        operation_id="environments_list",
        responses={200: EnvironmentListSerializer, **errors(404)},
        description="The environments you may read something in, in order.",
    )
    def get(self, request: Request, project: str) -> Response:
        return Response(EnvironmentListSerializer({"environments": environment_list(self.scope(project))}).data)

    @extend_schema(
        operation_id="environments_create",
        request=EnvironmentCreateRequest,
        responses={201: EnvironmentSerializer, **errors(400, 403, 404, 409)},
    )
    def post(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        data = self.parse(EnvironmentCreateRequest, request.data)
        environment = environment_create(
            scope=scope, slug=data["slug"], name=data["name"], position=data.get("position")
        )
        return Response(EnvironmentSerializer(environment).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    patch=extend_schema(
        operation_id="environments_update",
        parameters=[PROJECT, ENVIRONMENT],
        request=EnvironmentUpdateRequest,
        responses={200: EnvironmentSerializer, **errors(400, 403, 404, 409)},
    ),
    delete=extend_schema(
        operation_id="environments_delete",
        parameters=[PROJECT, ENVIRONMENT],
        responses={204: None, **errors(403, 404)},
        description="Deletes the environment with all its folders and secrets.",
    ),
)
@extend_schema(tags=ENV_TAGS)
class EnvironmentDetailApi(ApiView):
    def patch(self, request: Request, project: str, environment: str) -> Response:
        scope = self.scope(project)
        data = self.parse(EnvironmentUpdateRequest, request.data)
        updated = environment_update(
            scope=scope,
            slug=environment,
            new_slug=data.get("slug"),
            name=data.get("name"),
            reveal_marks_due=data.get("revealMarksDue"),
            reveal_rotation_hours=data.get("revealRotationHours"),
        )
        return Response(EnvironmentSerializer(updated).data)

    def delete(self, request: Request, project: str, environment: str) -> Response:
        environment_delete(scope=self.scope(project), slug=environment)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(patch=extend_schema(exclude=True), delete=extend_schema(exclude=True))
@extend_schema(tags=ENV_TAGS, parameters=[PROJECT])
class EnvironmentReorderApi(EnvironmentDetailApi):
    """``reorder/`` shadows an environment slugged ``reorder``: PATCH and DELETE still reach it here."""

    @extend_schema(
        operation_id="environments_reorder",
        request=EnvironmentReorderRequest,
        responses={200: EnvironmentListSerializer, **errors(400, 403, 404)},
    )
    def post(self, request: Request, project: str, environment: str = "reorder") -> Response:
        scope = self.scope(project)
        data = self.parse(EnvironmentReorderRequest, request.data)
        environments = environment_reorder(scope=scope, slugs=data["order"])
        return Response(EnvironmentListSerializer({"environments": environments}).data)
