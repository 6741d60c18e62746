"""Deliveries: which secret values were handed to which consumer, when and from where.

A beat task follows the audit log (like ``secrets_app.services.bookkeeping``) and folds every read
event that delivered values (``secret.values_read``: a list or ``run`` with values;
``secret.value_read``: one value) into ``SecretDelivery`` (per secret and consumer) and
``DeliveryDay`` (per project, environment, day and consumer). ``secret.listed`` delivers names only
and a denied read delivers nothing, so neither counts.

Each batch is a handful of statements whatever its size: the events are aggregated in Python, the
existing rows for the touched keys are read in one query each, then new rows are inserted and
existing ones updated in bulk. Counts must be added to, which ``bulk_create(update_conflicts=…)``
cannot do, and the same code runs on SQLite (``make run``) and PostgreSQL.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from governance.models import ConsumerKind, DeliveryDay, SecretDelivery
from secrets_app.models import BookkeepingCursor, Project, Secret

DELIVERING_ACTIONS = ("secret.values_read", "secret.value_read")
REVEAL_ACTION = "secret.value_read"
CURSOR = "governance-deliveries"
CONSUMER_KINDS = (ConsumerKind.USER.value, ConsumerKind.IDENTITY.value)
BULK_BATCH = 1000


@dataclass
class _Delivery:
    project_id: int
    label: str
    first: datetime.datetime
    last: datetime.datetime
    count: int
    ip: str
    user_agent: str
    pipeline: str
    revealed: datetime.datetime | None


@dataclass
class _Day:
    organization_id: int
    label: str
    events: int
    keys: int


def _pipelines(token_ids: Iterable[int]) -> dict[int, str]:
    """access token pk -> "ado-org/project-id/definition-id#build-id" for tokens that proved a run."""
    from dynamic.models import AdoRunToken

    ids = [token_id for token_id in set(token_ids) if isinstance(token_id, int)]
    if not ids:
        return {}
    rows = AdoRunToken.objects.filter(access_token_id__in=ids).values_list(
        "access_token_id", "org_name", "project_id", "definition_id", "build_id"
    )
    return {token_id: f"{org}/{project}/{definition}#{build}" for token_id, org, project, definition, build in rows}


def _events(position: int, horizon: datetime.datetime, batch_size: int) -> list[dict[str, Any]]:
    return list(
        AuditEvent.objects.filter(
            id__gt=position, action__in=DELIVERING_ACTIONS, outcome="allow", occurred_at__lte=horizon
        )
        .order_by("id")
        .values(
            "id",
            "occurred_at",
            "action",
            "actor_type",
            "actor_id",
            "actor_label",
            "organization_id",
            "project_id",
            "environment",
            "source_ip",
            "user_agent",
            "metadata",
        )[:batch_size]
    )


def _aggregate(
    events: list[dict[str, Any]],
) -> tuple[dict[tuple[int, str, int], _Delivery], dict[tuple[int, str, datetime.date, str, int], _Day]]:
    """Fold a batch of events (in id order) into per-delivery and per-day aggregates."""
    wanted: set[int] = set()
    for event in events:
        wanted.update(i for i in (event["metadata"] or {}).get("ids", []) if isinstance(i, int))
    secret_project = dict(Secret.objects.filter(pk__in=wanted).values_list("pk", "project_id")) if wanted else {}
    event_projects = {event["project_id"] for event in events if event["project_id"] is not None}
    live_projects = dict(Project.objects.filter(pk__in=event_projects).values_list("pk", "organization_id"))
    pipelines = _pipelines((event["metadata"] or {}).get("token") for event in events)

    deliveries: dict[tuple[int, str, int], _Delivery] = {}
    days: dict[tuple[int, str, datetime.date, str, int], _Day] = {}
    for event in events:
        kind = event["actor_type"]
        if kind not in CONSUMER_KINDS or not str(event["actor_id"]).isdigit():
            continue
        consumer_id = int(event["actor_id"])
        metadata = event["metadata"] or {}
        ids = [i for i in metadata.get("ids", []) if i in secret_project]
        if not ids:
            continue
        at = event["occurred_at"]
        label = event["actor_label"]
        pipeline = pipelines.get(metadata.get("token"), "") if kind == ConsumerKind.IDENTITY else ""
        revealed = at if event["action"] == REVEAL_ACTION else None
        for secret_id in ids:
            key = (secret_id, kind, consumer_id)
            found = deliveries.get(key)
            if found is None:
                deliveries[key] = _Delivery(
                    secret_project[secret_id],
                    label,
                    at,
                    at,
                    1,
                    event["source_ip"],
                    event["user_agent"],
                    pipeline,
                    revealed,
                )
            else:
                found.last, found.count, found.label = at, found.count + 1, label
                found.ip, found.user_agent, found.pipeline = event["source_ip"], event["user_agent"], pipeline
                found.revealed = revealed or found.revealed
        project_id = event["project_id"]
        if project_id not in live_projects:
            continue
        day_key = (project_id, event["environment"], at.astimezone(datetime.UTC).date(), kind, consumer_id)
        # ``ids`` stops at 500; ``count`` is the whole response.
        keys = max(len(ids), int(metadata.get("count") or 0))
        day = days.get(day_key)
        if day is None:
            days[day_key] = _Day(live_projects[project_id], label, 1, keys)
        else:
            day.events, day.keys, day.label = day.events + 1, day.keys + keys, label
    return deliveries, days


def _apply_deliveries(deliveries: dict[tuple[int, str, int], _Delivery]) -> None:
    if not deliveries:
        return
    secret_ids = {key[0] for key in deliveries}
    consumer_ids = {key[2] for key in deliveries}
    existing = {
        (row.secret_id, row.consumer_kind, row.consumer_id): row
        for row in SecretDelivery.objects.filter(secret_id__in=secret_ids, consumer_id__in=consumer_ids)
    }
    new, changed = [], []
    for key, found in deliveries.items():
        row = existing.get(key)
        if row is None:
            new.append(
                SecretDelivery(
                    secret_id=key[0],
                    project_id=found.project_id,
                    consumer_kind=key[1],
                    consumer_id=key[2],
                    consumer_label=found.label[:200],
                    first_delivered_at=found.first,
                    last_delivered_at=found.last,
                    deliveries=found.count,
                    last_source_ip=found.ip[:64],
                    last_user_agent=found.user_agent[:300],
                    last_pipeline=found.pipeline[:300],
                    last_revealed_at=found.revealed,
                )
            )
            continue
        row.consumer_label = found.label[:200]
        row.first_delivered_at = min(row.first_delivered_at, found.first)
        row.deliveries += found.count
        if found.last >= row.last_delivered_at:
            row.last_delivered_at = found.last
            row.last_source_ip, row.last_user_agent = found.ip[:64], found.user_agent[:300]
            row.last_pipeline = found.pipeline[:300]
        if found.revealed is not None and (row.last_revealed_at is None or found.revealed > row.last_revealed_at):
            row.last_revealed_at = found.revealed
        changed.append(row)
    SecretDelivery.objects.bulk_create(new, batch_size=BULK_BATCH)
    SecretDelivery.objects.bulk_update(
        changed,
        [
            "consumer_label",
            "first_delivered_at",
            "last_delivered_at",
            "deliveries",
            "last_source_ip",
            "last_user_agent",
            "last_pipeline",
            "last_revealed_at",
        ],
        batch_size=BULK_BATCH,
    )


def _apply_days(days: dict[tuple[int, str, datetime.date, str, int], _Day]) -> None:
    if not days:
        return
    existing = {
        (row.project_id, row.environment, row.day, row.consumer_kind, row.consumer_id): row
        for row in DeliveryDay.objects.filter(
            project_id__in={key[0] for key in days},
            day__in={key[2] for key in days},
            consumer_id__in={key[4] for key in days},
        )
    }
    new, changed = [], []
    for key, found in days.items():
        row = existing.get(key)
        if row is None:
            new.append(
                DeliveryDay(
                    organization_id=found.organization_id,
                    project_id=key[0],
                    environment=key[1],
                    day=key[2],
                    consumer_kind=key[3],
                    consumer_id=key[4],
                    consumer_label=found.label[:200],
                    events=found.events,
                    keys=found.keys,
                )
            )
            continue
        row.events += found.events
        row.keys += found.keys
        row.consumer_label = found.label[:200]
        changed.append(row)
    DeliveryDay.objects.bulk_create(new, batch_size=BULK_BATCH)
    DeliveryDay.objects.bulk_update(changed, ["events", "keys", "consumer_label"], batch_size=BULK_BATCH)


def deliveries_refresh(*, batch_size: int = 5000) -> int:
    """Fold up to *batch_size* new read events into deliveries and delivery days. Idempotent: a
    cursor row, locked for the batch, remembers the last event applied, in the same transaction
    as the rows it produced. Returns how many events were consumed (0: caught up)."""
    # Events younger than the seal delay may still have lower-id neighbours in flight; wait for them.
    horizon = timezone.now() - datetime.timedelta(seconds=settings.STRONGROOM_AUDIT_SEAL_DELAY_SECONDS)
    with transaction.atomic():
        cursor, _ = BookkeepingCursor.objects.select_for_update().get_or_create(name=CURSOR)
        events = _events(cursor.position, horizon, batch_size)
        if not events:
            return 0
        deliveries, days = _aggregate(events)
        _apply_deliveries(deliveries)
        _apply_days(days)
        cursor.position = events[-1]["id"]
        cursor.save(update_fields=["position", "updated_at"])
    return len(events)


def deliveries_catch_up(*, batch_size: int = 5000, seconds: float = 20.0) -> int:
    """Run batches until caught up or *seconds* have passed (a beat run stays shorter than its
    interval; the next run goes on from the cursor). Returns how many events were consumed."""
    deadline = time.monotonic() + seconds
    total = 0
    while True:
        consumed = deliveries_refresh(batch_size=batch_size)
        total += consumed
        if consumed < batch_size or time.monotonic() >= deadline:
            return total
