"""Folders, secret imports and tags."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.base import ApiView
from secrets_app.api.schema import ID, PROJECT, SLUG, errors
from secrets_app.api.serializers.secrets import (
    FolderCreateRequest,
    FolderListSerializer,
    FolderLocationQuery,
    FolderRenameRequest,
    FolderSerializer,
    ImportCreateRequest,
    ImportListSerializer,
    ImportReorderRequest,
    ImportSerializer,
    TagCreateRequest,
    TagListSerializer,
    TagSerializer,
)
from secrets_app.selectors.folders import folder_children_list
from secrets_app.selectors.imports import import_list
from secrets_app.selectors.tags import tag_list
from secrets_app.services.folders import (
    folder_create,
    folder_delete,
    folder_rename,
    import_create,
    import_delete,
    import_reorder,
    tag_create,
    tag_delete,
)


@extend_schema_view(
    get=extend_schema(
        operation_id="folders_list",
        parameters=[PROJECT, FolderLocationQuery],
        responses={200: FolderListSerializer, **errors(400, 403, 404)},
        description="Direct subfolders of `path` that lead to something you may read.",
    ),
    post=extend_schema(
        operation_id="folders_create",
        parameters=[PROJECT],
        request=FolderCreateRequest,
        responses={201: FolderSerializer, **errors(400, 403, 404, 409)},
        description="Create folder `name` under `path`.",
    ),
    patch=extend_schema(
        operation_id="folders_rename",
        parameters=[PROJECT, FolderLocationQuery],
        request=FolderRenameRequest,
        responses={200: FolderSerializer, **errors(400, 403, 404, 409)},
        description="Rename the folder at `path` (its subfolders move with it).",
    ),
    delete=extend_schema(
        operation_id="folders_delete",
        parameters=[PROJECT, FolderLocationQuery],
        responses={204: None, **errors(400, 403, 404)},
        description="Delete the folder at `path` with everything below it.",
    ),
)
@extend_schema(tags=["folders"])
class FolderApi(ApiView):
    def get(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        query = self.query(FolderLocationQuery, request)
        folders = folder_children_list(scope, environment=query["environment"], path=query["path"])
        return Response(FolderListSerializer({"folders": folders}).data)

    def post(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        data = self.parse(FolderCreateRequest, request.data)
        folder = folder_create(scope=scope, environment=data["environment"], path=data["path"], name=data["name"])
        return Response(FolderSerializer(folder).data, status=status.HTTP_201_CREATED)

    def patch(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        query = self.query(FolderLocationQuery, request)
        data = self.parse(FolderRenameRequest, request.data)
        folder = folder_rename(scope=scope, environment=query["environment"], path=query["path"], name=data["name"])
        return Response(FolderSerializer(folder).data)

    def delete(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        query = self.query(FolderLocationQuery, request)
        folder_delete(scope=scope, environment=query["environment"], path=query["path"])
        return Response(status=status.HTTP_204_NO_CONTENT)


IMPORT_TAGS = ["imports"]


@extend_schema(tags=IMPORT_TAGS, parameters=[PROJECT])
class ImportListApi(ApiView):
    @extend_schema(
        operation_id="imports_list",
        parameters=[FolderLocationQuery],
        responses={200: ImportListSerializer, **errors(400, 403, 404)},
        description="The folder's imports in resolution order (earlier ones win; local keys beat all).",
    )
    def get(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        query = self.query(FolderLocationQuery, request)
        imports = import_list(scope, environment=query["environment"], path=query["path"])
        return Response(ImportListSerializer({"imports": imports}).data)

    @extend_schema(
        operation_id="imports_create",
        request=ImportCreateRequest,
        responses={201: ImportSerializer, **errors(400, 403, 404, 409)},
    )
    def post(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        data = self.parse(ImportCreateRequest, request.data)
        created = import_create(
            scope=scope,
            environment=data["environment"],
            path=data["path"],
            source_environment=data["sourceEnvironment"],
            source_path=data["sourcePath"],
        )
        return Response(ImportSerializer(created).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=IMPORT_TAGS, parameters=[PROJECT, ID])
class ImportDetailApi(ApiView):
    @extend_schema(operation_id="imports_delete", responses={204: None, **errors(403, 404)})
    def delete(self, request: Request, project: str, id: int) -> Response:  # noqa: A002 - the route's name
        import_delete(scope=self.scope(project), import_id=id)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=IMPORT_TAGS, parameters=[PROJECT])
class ImportReorderApi(ApiView):
    @extend_schema(
        operation_id="imports_reorder",
        request=ImportReorderRequest,
        responses={200: ImportListSerializer, **errors(400, 403, 404)},
    )
    def post(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        data = self.parse(ImportReorderRequest, request.data)
        imports = import_reorder(
            scope=scope, environment=data["environment"], path=data["path"], import_ids=data["order"]
        )
        return Response(ImportListSerializer({"imports": imports}).data)


TAG_TAGS = ["tags"]


@extend_schema(tags=TAG_TAGS, parameters=[PROJECT])
class TagListApi(ApiView):
    @extend_schema(operation_id="tags_list", responses={200: TagListSerializer, **errors(404)})
    def get(self, request: Request, project: str) -> Response:
        return Response(TagListSerializer({"tags": tag_list(self.scope(project))}).data)

    @extend_schema(
        operation_id="tags_create",
        request=TagCreateRequest,
        responses={201: TagSerializer, **errors(400, 403, 404, 409)},
    )
    def post(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        data = self.parse(TagCreateRequest, request.data)
        tag = tag_create(scope=scope, slug=data["slug"], name=data["name"], color=data["color"])
        return Response(TagSerializer(tag).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAG_TAGS, parameters=[PROJECT, SLUG])
class TagDetailApi(ApiView):
    @extend_schema(operation_id="tags_delete", responses={204: None, **errors(403, 404)})
    def delete(self, request: Request, project: str, slug: str) -> Response:
        tag_delete(scope=self.scope(project), slug=slug)
        return Response(status=status.HTTP_204_NO_CONTENT)
