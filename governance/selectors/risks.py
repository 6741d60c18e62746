"""The lists behind the dashboard's numbers: per-secret risk rows (filter, sort, page, export) and
one secret's consumers ("delivered to"). Filtered to a ``DashboardScope``'s projects, always."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from governance.models import ConsumerKind, SecretDelivery, SecretRisk
from governance.selectors.dashboard import AGE_BUCKETS, FLAG_NAMES, FLAGS, age_q
from governance.selectors.scope import DashboardScope
from secrets_app.errors import NotFound, ValidationFailed
from secrets_app.models import MachineIdentity, Secret
from secrets_app.paths import canonical_path

# ?sort= values; a leading "-" reverses. The default: riskiest first.
SORTS: dict[str, tuple[Any, ...]] = {
    "score": (F("score").asc(), "key", "secret_id"),
    "age": (F("changed_at").desc(), "key", "secret_id"),  # ascending age: youngest first
    "last_delivered": (F("last_delivered_at").asc(nulls_first=True), "key", "secret_id"),
    "key": ("key", "path", "environment__position", "secret_id"),
}
DEFAULT_SORT = "-score"
AGE_KEYS = tuple(key for key, *_ in AGE_BUCKETS)
ANY_FLAG = "any"  # ?flag=any: secrets with at least one flag


@dataclass(frozen=True)
class RiskFilters:
    flag: str | None = None
    project: str | None = None  # slug (organization lists)
    environment: str | None = None  # slug
    path: str | None = None  # prefix, segment-aware: /app matches /app and /app/x, not /app-other
    consumer: str | None = None  # "identity:<public id>" or "user:<id>"
    age: str | None = None  # an age bucket (AGE_BUCKETS): time since the last change
    sort: str = DEFAULT_SORT

    def query_string(self, **changes: Any) -> str:
        """These filters (with *changes*) as a URL query string, for links and pages."""
        from urllib.parse import urlencode

        values = {
            "flag": self.flag,
            "project": self.project,
            "environment": self.environment,
            "path": self.path,
            "consumer": self.consumer,
            "age": self.age,
            "sort": None if self.sort == DEFAULT_SORT else self.sort,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v})


def risk_filters_parse(params: Any) -> RiskFilters:
    """Validated filters from query parameters (a ValidationFailed naming the field otherwise)."""
    flag = (params.get("flag") or "").strip() or None
    if flag is not None and flag not in (*FLAG_NAMES, ANY_FLAG):
        raise ValidationFailed("flag", f"must be one of: {', '.join(FLAG_NAMES)}, or {ANY_FLAG}")
    sort = (params.get("sort") or "").strip() or DEFAULT_SORT
    if sort.lstrip("-") not in SORTS:
        raise ValidationFailed("sort", f"must be one of: {', '.join(SORTS)} (prefix - to reverse)")
    consumer = (params.get("consumer") or "").strip() or None
    if consumer is not None:
        kind, _, ident = consumer.partition(":")
        if kind not in ConsumerKind.values or not ident:
            raise ValidationFailed("consumer", "must be identity:<identity id> or user:<user id>")
    age = (params.get("age") or "").strip() or None
    if age is not None and age not in AGE_KEYS:
        raise ValidationFailed("age", f"must be one of: {', '.join(AGE_KEYS)}")
    path = (params.get("path") or "").strip() or None
    if path is not None:
        path = canonical_path(path)
    return RiskFilters(
        flag=flag,
        project=(params.get("project") or "").strip() or None,
        environment=(params.get("environment") or "").strip() or None,
        path=path,
        consumer=consumer,
        age=age,
        sort=sort,
    )


def _consumer_q(consumer: str, project_ids: tuple[int, ...]) -> Q:
    kind, _, ident = consumer.partition(":")
    consumer_id: int | None = None
    if kind == ConsumerKind.IDENTITY:
        found = (
            MachineIdentity.objects.filter(public_id=ident).values_list("pk", flat=True).first()
            if _is_uuid(ident)
            else None
        )
        consumer_id = found
    elif ident.isdigit():
        consumer_id = int(ident)
    if consumer_id is None:
        return Q(pk__in=[])
    delivered = SecretDelivery.objects.filter(
        project_id__in=project_ids, consumer_kind=kind, consumer_id=consumer_id
    ).values("secret_id")
    return Q(secret_id__in=delivered)


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def risk_list(scope: DashboardScope, filters: RiskFilters) -> QuerySet[SecretRisk]:
    """The scope's risk rows matching *filters*, sorted (lazy: page or stream it)."""
    rows = SecretRisk.objects.filter(project_id__in=scope.project_ids).select_related("project", "environment")
    if filters.flag == ANY_FLAG:
        any_flag = Q()
        for name in FLAG_NAMES:
            any_flag |= Q(**{name: True})
        rows = rows.filter(any_flag)
    elif filters.flag:
        rows = rows.filter(**{filters.flag: True})
    if filters.project:
        rows = rows.filter(project__slug=filters.project)
    if filters.environment:
        rows = rows.filter(environment__slug=filters.environment)
    if filters.path and filters.path != "/":
        rows = rows.filter(Q(path=filters.path) | Q(path__startswith=filters.path.rstrip("/") + "/"))
    if filters.consumer:
        rows = rows.filter(_consumer_q(filters.consumer, scope.project_ids))
    if filters.age:
        rows = rows.filter(age_q(filters.age, timezone.now()))
    name = filters.sort.lstrip("-")
    order = list(SORTS[name])
    if filters.sort.startswith("-"):
        first = order[0]
        order[0] = F(first).desc() if isinstance(first, str) else _reversed(first)
    return rows.order_by(*order)


def _reversed(expression: Any) -> Any:
    inner = expression.expression
    if expression.descending:
        return inner.asc(nulls_last=True)
    return inner.desc(nulls_last=True)


def risk_flags_of(row: SecretRisk) -> list[str]:
    """The labels of the flags a row carries, in the dashboard's order."""
    return [label for name, label in FLAGS if getattr(row, name)]


@dataclass(frozen=True)
class SecretConsumers:
    secret: Secret
    risk: SecretRisk | None  # None until the next governance refresh
    deliveries: list[SecretDelivery]


def secret_consumers(scope: DashboardScope, secret_id: int) -> SecretConsumers:
    """One live secret of the scope's project and what its value was delivered to, most recent
    first. NotFound for a secret of another project (or a deleted one)."""
    secret = (
        Secret.objects.filter(pk=secret_id, project_id__in=scope.project_ids, deleted_at__isnull=True)
        .select_related("environment", "folder", "project")
        .first()
    )
    if secret is None:
        raise NotFound("Secret not found")
    risk = SecretRisk.objects.filter(secret_id=secret.pk).first()
    deliveries = list(SecretDelivery.objects.filter(secret_id=secret.pk).order_by("-last_delivered_at", "id"))
    identity_ids = [d.consumer_id for d in deliveries if d.consumer_kind == ConsumerKind.IDENTITY]
    public = (
        dict(MachineIdentity.objects.filter(pk__in=identity_ids).values_list("pk", "public_id")) if identity_ids else {}
    )
    for delivery in deliveries:
        is_identity = delivery.consumer_kind == ConsumerKind.IDENTITY
        delivery.identity_public_id = public.get(delivery.consumer_id) if is_identity else None  # type: ignore[attr-defined]
    return SecretConsumers(secret=secret, risk=risk, deliveries=deliveries)


# --- CSV -------------------------------------------------------------------------------------

RISK_COLUMNS = (
    "project",
    "environment",
    "path",
    "key",
    "score",
    "flags",
    "version",
    "changed_at",
    "last_rotated_at",
    "expires_at",
    "last_delivered_at",
    "last_delivered_to",
    "consumers",
    "owner",
    "last_revealed_at",
    "last_revealed_by",
    "same_value_in",
)
CONSUMER_COLUMNS = (
    "consumer_kind",
    "consumer",
    "first_delivered_at",
    "last_delivered_at",
    "deliveries",
    "last_source_ip",
    "last_user_agent",
    "last_pipeline",
)


def _cell(value: Any) -> Any:
    """A spreadsheet would run a cell starting with = + - @ (CSV injection): prefix an apostrophe."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The header, then each row, as CSV lines (formula-looking cells neutralised), for streaming."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(list(header))
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(v) for v in row])
        yield buffer.getvalue()


def risk_rows_csv(rows: QuerySet[SecretRisk]) -> Iterator[str]:
    """Every row of *rows* as CSV lines (header first), read in chunks."""
    return csv_lines(
        RISK_COLUMNS,
        (
            (
                r.project.slug,
                r.environment.slug,
                r.path,
                r.key,
                r.score,
                ";".join(n for n in FLAG_NAMES if getattr(r, n)),
                r.version,
                r.changed_at,
                r.last_rotated_at,
                r.expires_at,
                r.last_delivered_at,
                r.last_delivered_to,
                r.consumers,
                r.owner_label,
                r.last_revealed_at,
                r.last_revealed_by,
                ";".join(r.same_value_in or []),
            )
            for r in rows.iterator(chunk_size=2000)
        ),
    )


def consumer_rows_csv(deliveries: list[SecretDelivery]) -> Iterator[str]:
    return csv_lines(
        CONSUMER_COLUMNS,
        (
            (
                d.consumer_kind,
                d.consumer_label,
                d.first_delivered_at,
                d.last_delivered_at,
                d.deliveries,
                d.last_source_ip,
                d.last_user_agent,
                d.last_pipeline,
            )
            for d in deliveries
        ),
    )


def top_consumer_rows_csv(consumers: list[dict[str, Any]]) -> Iterator[str]:
    """``top_consumers`` rows as CSV lines (header first)."""
    return csv_lines(
        ("consumer_kind", "consumer", "identity_id", "read_events", "keys"),
        ((c["kind"], c["label"], c["identity_public_id"] or "", c["events"], c["keys"]) for c in consumers),
    )
