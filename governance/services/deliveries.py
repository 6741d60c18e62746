"""Deliveries: which secret values were handed to which consumer, when and from where.

A beat task follows the audit log (like ``secrets_app.services.last_read``) and folds every read
event that delivered values (``secret.values_read``: a list or ``run`` with values;
``secret.value_read``: one value) into ``SecretDelivery`` (per secret and consumer) and
``DeliveryDay`` (per project, environment, day and consumer). ``secret.listed`` delivers names only
and a denied read delivers nothing, so neither counts.

Each batch is a handful of statements whatever its size: the events are aggregated in Python, then
each table gets ``INSERT … ON CONFLICT DO UPDATE`` statements (one per 20,000 rows on PostgreSQL,
per 1,000 on SQLite) that add the counts and keep the later delivery's address, agent and pipeline.
``bulk_create(update_conflicts=…)`` can only overwrite, and reading the existing rows first then
``bulk_update`` is far slower at 10,000 secrets (a CASE per row and column). The same statements
run on SQLite (``make run``) and PostgreSQL.
"""

from __future__ import annotations

import datetime
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.models import AuditEvent
from governance.models import ConsumerKind, DeliveryDay, SecretDelivery
from governance.services.upsert import rows_upsert
from secrets_app.models import BookkeepingCursor, Project, Secret

DELIVERING_ACTIONS = ("secret.values_read", "secret.value_read")
REVEAL_ACTION = "secret.value_read"
CURSOR = "governance-deliveries"
CONSUMER_KINDS = (ConsumerKind.USER.value, ConsumerKind.IDENTITY.value)
CATCH_UP_BATCH = 25000


@dataclass
class _Day:
    organization_id: int
    label: str
    events: int
    keys: int


def _pipelines(token_ids: Iterable[Any]) -> dict[int, str]:
    """access token pk -> "ado-org/project-id/definition-id#build-id" for tokens that proved a run."""
    from dynamic.models import AdoRunToken

    ids = [token_id for token_id in set(token_ids) if isinstance(token_id, int)]
    if not ids:
        return {}
    rows = AdoRunToken.objects.filter(access_token_id__in=ids).values_list(
        "access_token_id", "org_name", "project_id", "definition_id", "build_id"
    )
    return {token_id: f"{org}/{project}/{definition}#{build}" for token_id, org, project, definition, build in rows}


def _settled_through(position: int, horizon: datetime.datetime) -> int | None:
    """The highest event id up to which every event is older than *horizon* (None: no event after
    *position*). Events younger than the seal delay may still have lower-id neighbours in flight,
    and a web server with a clock behind may write an older ``occurred_at`` after a younger one: the
    cursor never passes the first young event, whatever its action."""
    # No ORDER BY … LIMIT 1 here: that plan walks the primary key from *position* and, with no young
    # event, reads the whole log after it; the few seconds of young events come off the time index.
    young = list(AuditEvent.objects.filter(id__gt=position, occurred_at__gt=horizon).values_list("id", flat=True))
    if young:
        return min(young) - 1
    return AuditEvent.objects.filter(id__gt=position).aggregate(last=Max("id"))["last"]


def _events(position: int, through: int, batch_size: int) -> list[Any]:
    return list(
        AuditEvent.objects.filter(id__gt=position, id__lte=through, action__in=DELIVERING_ACTIONS, outcome="allow")
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


@dataclass
class _ConsumerBatch:
    """One consumer's deliveries in a batch, per secret id: how many, and the indexes (in the batch,
    which is in id order) of the first and the newest event that delivered it. Built with C-level
    set and dict operations per event rather than a Python step per delivered key."""

    counts: Counter[int] = field(default_factory=Counter)
    first: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    revealed: dict[int, datetime.datetime] = field(default_factory=dict)


def _aggregate(
    events: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[tuple[int, str, datetime.date, str, int], _Day]]:
    """Fold a batch of events (in id order) into delivery rows and per-day aggregates."""
    wanted: set[int] = set()
    for event in events:
        wanted.update(i for i in (event["metadata"] or {}).get("ids", ()) if isinstance(i, int))
    secret_project = dict(Secret.objects.filter(pk__in=wanted).values_list("pk", "project_id")) if wanted else {}
    known = secret_project.keys()
    event_projects = {event["project_id"] for event in events if event["project_id"] is not None}
    live_projects = dict(Project.objects.filter(pk__in=event_projects).values_list("pk", "organization_id"))
    pipelines = _pipelines((event["metadata"] or {}).get("token") for event in events)

    consumers: dict[tuple[str, int], _ConsumerBatch] = defaultdict(_ConsumerBatch)
    days: dict[tuple[int, str, datetime.date, str, int], _Day] = {}
    for index, event in enumerate(events):
        kind = event["actor_type"]
        if kind not in CONSUMER_KINDS or not str(event["actor_id"]).isdigit():
            continue
        consumer_id = int(event["actor_id"])
        metadata = event["metadata"] or {}
        ids = known & set(metadata.get("ids", ()))
        if not ids:
            continue
        batch = consumers[(kind, consumer_id)]
        batch.counts.update(ids)
        batch.first.update(dict.fromkeys(ids - batch.first.keys(), index))
        batch.last.update(dict.fromkeys(ids, index))
        if event["action"] == REVEAL_ACTION:
            batch.revealed.update(dict.fromkeys(ids, event["occurred_at"]))
        project_id = event["project_id"]
        if project_id not in live_projects:
            continue
        at = event["occurred_at"]
        day_key = (project_id, event["environment"], at.astimezone(datetime.UTC).date(), kind, consumer_id)
        # ``ids`` stops at 500; ``count`` is the whole response.
        keys = max(len(ids), int(metadata.get("count") or 0))
        day = days.get(day_key)
        if day is None:
            days[day_key] = _Day(live_projects[project_id], event["actor_label"], 1, keys)
        else:
            day.events, day.keys, day.label = day.events + 1, day.keys + keys, event["actor_label"]

    def pipeline_of(event: dict[str, Any]) -> str:
        token = (event["metadata"] or {}).get("token")
        if event["actor_type"] != ConsumerKind.IDENTITY or not isinstance(token, int):
            return ""
        return pipelines.get(token, "")

    rows = []
    for (kind, consumer_id), batch in consumers.items():
        for secret_id, count in batch.counts.items():
            newest, oldest = events[batch.last[secret_id]], events[batch.first[secret_id]]
            rows.append(
                {
                    "secret": secret_id,
                    "project": secret_project[secret_id],
                    "consumer_kind": kind,
                    "consumer_id": consumer_id,
                    "consumer_label": newest["actor_label"][:200],
                    "first_delivered_at": oldest["occurred_at"],
                    "last_delivered_at": newest["occurred_at"],
                    "deliveries": count,
                    "last_source_ip": newest["source_ip"][:64],
                    "last_user_agent": newest["user_agent"][:300],
                    "last_pipeline": pipeline_of(newest)[:300],
                    "last_revealed_at": batch.revealed.get(secret_id),
                }
            )
    return rows, days


def _later(value: str) -> str:
    """The stored *value* column, or the new one when the new delivery is the later one."""
    return f"CASE WHEN excluded.last_delivered_at >= {{old}}.last_delivered_at THEN excluded.{value} ELSE {{old}}.{value} END"


def _apply_deliveries(rows: list[dict[str, Any]]) -> None:
    rows_upsert(
        SecretDelivery,
        rows,
        conflict=["secret", "consumer_kind", "consumer_id"],
        updates={
            "consumer_label": "excluded.consumer_label",
            "first_delivered_at": "CASE WHEN excluded.first_delivered_at < {old}.first_delivered_at"
            " THEN excluded.first_delivered_at ELSE {old}.first_delivered_at END",
            "last_source_ip": _later("last_source_ip"),
            "last_user_agent": _later("last_user_agent"),
            "last_pipeline": _later("last_pipeline"),
            "last_delivered_at": _later("last_delivered_at"),
            "deliveries": "{old}.deliveries + excluded.deliveries",
            "last_revealed_at": "CASE WHEN {old}.last_revealed_at IS NULL OR excluded.last_revealed_at > "
            "{old}.last_revealed_at THEN excluded.last_revealed_at ELSE {old}.last_revealed_at END",
        },
    )


def _apply_days(days: dict[tuple[int, str, datetime.date, str, int], _Day]) -> None:
    rows = [
        {
            "organization_id": found.organization_id,
            "project": project_id,
            "environment": environment,
            "day": day,
            "consumer_kind": kind,
            "consumer_id": consumer_id,
            "consumer_label": found.label[:200],
            "events": found.events,
            "keys": found.keys,
        }
        for (project_id, environment, day, kind, consumer_id), found in days.items()
    ]
    rows_upsert(
        DeliveryDay,
        rows,
        conflict=["project", "environment", "day", "consumer_kind", "consumer_id"],
        updates={
            "consumer_label": "excluded.consumer_label",
            "events": "{old}.events + excluded.events",
            "keys": "{old}.keys + excluded.keys",
        },
    )


def deliveries_refresh(*, batch_size: int = 5000) -> int:
    """Fold up to *batch_size* new read events into deliveries and delivery days. Idempotent: a
    cursor row, locked for the batch, remembers how far the log was read, in the same transaction
    as the rows it produced. Returns how many read events were consumed (fewer than *batch_size*:
    caught up with the log up to the seal delay)."""
    horizon = timezone.now() - datetime.timedelta(seconds=settings.STRONGROOM_AUDIT_SEAL_DELAY_SECONDS)
    with transaction.atomic():
        cursor, _ = BookkeepingCursor.objects.select_for_update().get_or_create(name=CURSOR)
        through = _settled_through(cursor.position, horizon)
        if through is None or through <= cursor.position:
            return 0
        events = _events(cursor.position, through, batch_size)
        if events:
            rows, days = _aggregate(events)
            _apply_deliveries(rows)
            _apply_days(days)
        # A short batch read every event up to *through*: the cursor moves past the other actions too,
        # so the next run does not scan them again.
        cursor.position = events[-1]["id"] if len(events) == batch_size else through
        cursor.save(update_fields=["position", "updated_at"])
    return len(events)


def deliveries_catch_up(*, batch_size: int = CATCH_UP_BATCH, seconds: float = 20.0) -> int:
    """Run batches until caught up or *seconds* have passed (a beat run stays shorter than its
    interval; the next run goes on from the cursor). Returns how many events were consumed.
    Larger batches than the default one fold a backlog faster: a secret read by the same consumer
    in many events of a batch is written once."""
    deadline = time.monotonic() + seconds
    total = 0
    while True:
        consumed = deliveries_refresh(batch_size=batch_size)
        total += consumed
        if consumed < batch_size or time.monotonic() >= deadline:
            return total
