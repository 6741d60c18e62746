"""Environment parity over the API: ``GET projects/<project>/governance/parity/?from=staging&to=prod``.
Thin: parse the query, call ``environment_parity``, serialize (keys and counts, never values)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from governance.api.views_dashboard import CSV, _CsvIsAParameter, csv_download, wants_csv
from governance.selectors.parity import ParityReport, Place, environment_parity, parity_rows_csv
from secrets_app.api.base import ApiView
from secrets_app.api.fields import QueryBoolean
from secrets_app.api.schema import PROJECT, errors


class ParityQuery(serializers.Serializer):
    to = serializers.CharField(help_text="Target environment slug (e.g. prod)")
    path = serializers.CharField(required=False, default="/", help_text="Folder path, e.g. /backend")
    recursive = QueryBoolean(default=True, help_text="false: only the folder itself, not its subfolders")

    def get_fields(self) -> dict[str, serializers.Field]:
        # ``from`` is a Python keyword: declared here rather than as a class attribute.
        return {
            "from": serializers.CharField(help_text="Source environment slug (e.g. staging)"),
            **super().get_fields(),
        }


class ParityKeySerializer(serializers.Serializer):
    path = serializers.CharField()
    key = serializers.CharField()
    quarantined = serializers.BooleanField(help_text="Quarantined in the environment it is present in")


class ParityUnknownSerializer(serializers.Serializer):
    path = serializers.CharField()
    key = serializers.CharField()
    reason = serializers.ChoiceField(
        choices=["presence", "value"],
        help_text="presence: you may not list the other environment here; value: you may not read a value to compare",
    )


class ParityCountsSerializer(serializers.Serializer):
    missing = serializers.IntegerField()
    extra = serializers.IntegerField()
    sameValue = serializers.IntegerField()
    unknown = serializers.IntegerField()
    compared = serializers.IntegerField(help_text="Keys present in both whose values were compared")


class ParityReportSerializer(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]
    target = serializers.CharField()
    path = serializers.CharField()
    recursive = serializers.BooleanField()
    ok = serializers.BooleanField(help_text="True when no key of the source is missing in the target")
    missing = ParityKeySerializer(many=True, help_text="In the source, not in the target")
    extra = ParityKeySerializer(many=True, help_text="In the target, not in the source")
    sameValue = ParityKeySerializer(many=True, help_text="Present in both with the same value (a warning)")
    unknown = ParityUnknownSerializer(many=True, help_text="What you may not see enough of to decide")
    counts = ParityCountsSerializer()


def parity_data(report: ParityReport) -> dict[str, Any]:
    """The report as the API (and the UI's JSON-minded callers) show it."""

    def entries(places: list[Place], environment: str) -> list[dict[str, Any]]:
        return [
            {"path": path, "key": key, "quarantined": report.is_quarantined(environment, (path, key))}
            for path, key in places
        ]

    counts = report.counts()
    return {
        "source": report.source,
        "target": report.target,
        "path": report.paths[0],
        "recursive": report.recursive,
        "ok": report.ok,
        "missing": entries(report.missing, report.source),
        "extra": entries(report.extra, report.target),
        "sameValue": [
            {
                "path": path,
                "key": key,
                "quarantined": report.is_quarantined(report.source, (path, key))
                or report.is_quarantined(report.target, (path, key)),
            }
            for path, key in report.same_value
        ],
        "unknown": [{"path": path, "key": key, "reason": reason} for path, key, reason in report.unknown],
        "counts": {
            "missing": counts["missing"],
            "extra": counts["extra"],
            "sameValue": counts["same_value"],
            "unknown": counts["unknown"],
            "compared": counts["compared"],
        },
    }


@extend_schema(tags=["governance"], parameters=[PROJECT])
class ProjectParityApi(ApiView):
    content_negotiation_class = _CsvIsAParameter

    @extend_schema(
        operation_id="governance_parity",
        parameters=[
            OpenApiParameter("from", str, OpenApiParameter.QUERY, required=True, description="Source environment"),
            OpenApiParameter("to", str, OpenApiParameter.QUERY, required=True, description="Target environment"),
            OpenApiParameter("path", str, OpenApiParameter.QUERY, description="Folder path (default /)"),
            OpenApiParameter(
                "recursive", str, OpenApiParameter.QUERY, description="true (default) or false", enum=["true", "false"]
            ),
        ],
        responses={(200, "application/json"): ParityReportSerializer, (200, "text/csv"): CSV, **errors(400, 403, 404)},
        description=(
            "Compare the keys of two environments before a promotion: keys missing in `to`, extra keys "
            "there, and keys with the same value in both (a warning). Needs `secrets.read` at `path` in "
            'both environments; "same value" is decided only where you may read both values, otherwise '
            "the key is listed under `unknown`. Recorded as one `environment.parity_checked` event. "
            "`?format=csv` or `Accept: text/csv`: one row per finding."
        ),
    )
    def get(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        query = self.query(ParityQuery, request)
        report = environment_parity(
            scope, source=query["from"], target=query["to"], path=query["path"], recursive=query["recursive"]
        )
        if wants_csv(request):
            return csv_download(  # type: ignore[return-value]
                parity_rows_csv(report), f"{scope.project.slug}-parity-{report.source}-{report.target}.csv"
            )
        return Response(parity_data(report))
