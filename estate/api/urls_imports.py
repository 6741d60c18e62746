"""Estate REST routes for imports (included by ``estate/api/urls.py`` under
``/api/v1/organizations/<organization>/estate/``). Organization admins only; a member who is not an
admin gets 403 (audited ``permission.denied``), anyone else 404.

Route (name)                                     audit action                      minimal valid request body
GET  imports/ (imports)                          —                                 —
POST imports/ (imports)                          estate.import_created             {"resource": <id>, "project": "acme",
                                                                                    "environment": "dev", "path": "/"}
GET  imports/<uuid:import_id>/ (import-detail)   —                                 —
GET  resources/<int:resource>/import-suggestion/ —                                 —
     (import-suggestion)
POST imports/<uuid>/preview/ (import-preview)    — (writes nothing)                {}
POST imports/<uuid>/apply/ (import-apply)        estate.import_applied             {}
                                                 (+ secret.bulk_upserted)
POST imports/<uuid>/values/ (import-values)      estate.import_values_entered      {"values": {"<ado name>": "v"}}
                                                 (+ secret.bulk_upserted)          or {"csv": "name,value\\nX,v\\n"}
                                                                                   or a text/csv body
POST imports/<uuid>/convert-to-sync/             estate.import_converted_to_sync   {"confirm": true}
     (import-convert)                            (+ sync.created)                  ({} → 400 naming "confirm")

Preconditions for a 2xx: the resource (a variable group or pipeline) exists in the estate, the
project/environment exist; apply and preview read Azure DevOps; values need an item of the import;
convert needs an applied import of a Vsts variable group.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from estate.api import views_imports

urlpatterns: list[URLPattern] = [
    path("imports/", views_imports.ImportListApi.as_view(), name="imports"),
    path("imports/<uuid:import_id>/", views_imports.ImportDetailApi.as_view(), name="import-detail"),
    path(
        "resources/<int:resource>/import-suggestion/",
        views_imports.ImportSuggestionApi.as_view(),
        name="import-suggestion",
    ),
    path("imports/<uuid:import_id>/preview/", views_imports.ImportPreviewApi.as_view(), name="import-preview"),
    path("imports/<uuid:import_id>/apply/", views_imports.ImportApplyApi.as_view(), name="import-apply"),
    path("imports/<uuid:import_id>/values/", views_imports.ImportValuesApi.as_view(), name="import-values"),
    path(
        "imports/<uuid:import_id>/convert-to-sync/",
        views_imports.ImportConvertApi.as_view(),
        name="import-convert",
    ),
]
