"""ArcSight CEF:0 lines for audit events (the SIEM export format).

``CEF:0|Strongroom|Strongroom|<version>|<signature id>|<name>|<severity>|<extension>``

- signature id and name: the action (``secret.value_read``): stable, one per action;
- severity: ``error`` outcome 8, ``deny`` outcome 7, a secret value read 5, anything else 3;
- extension: ``rt`` (epoch ms), ``act`` (action), ``outcome``, ``suser`` (actor label), ``suid``
  (``type:id``), ``spriv`` (role), ``src`` (client address), ``requestClientApplication`` (user
  agent), ``filePath`` (secret path), ``externalId`` (event id), ``cn1``/``cn2`` (organization and
  project id), ``cs1``..``cs6`` (event id, row hash, block sequence, block hash, resource
  ``type:id``, request id) each with its ``csNLabel``, ``msg`` (environment and metadata as JSON).

Escaping follows the CEF spec: header fields escape ``\\`` and ``|``; extension values escape ``\\``,
``=`` and line breaks (``\\n``, ``\\r``). Header fields have line breaks escaped the same way, so a
line is always one event.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from importlib import metadata
from typing import Any

VALUE_READ_ACTIONS = frozenset({"secret.value_read", "secret.values_read"})

CUSTOM_STRINGS: tuple[tuple[str, str], ...] = (
    ("eventId", "id"),
    ("rowHash", "row_hash"),
    ("blockSequence", "block_sequence"),
    ("blockHash", "block_hash"),
    ("resource", "_resource"),
    ("requestId", "request_id"),
)


@cache
def strongroom_version() -> str:
    try:
        return metadata.version("strongroom")
    except metadata.PackageNotFoundError:
        return "0"


def cef_severity(action: str, outcome: str) -> int:
    """8 for an error, 7 for a refusal, 5 for a secret value read, 3 otherwise."""
    if outcome == "error":
        return 8
    if outcome == "deny":
        return 7
    if action in VALUE_READ_ACTIONS:
        return 5
    return 3


def cef_escape_header(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("|", "\\|")
    return text.replace("\r", "\\r").replace("\n", "\\n")


def cef_escape_extension(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\r", "\\r").replace("\n", "\\n")


def cef_line(row: dict[str, Any], *, version: str) -> str:
    """One CEF line (no trailing newline) for an exported row (``audit.export.audit_export_rows``)."""
    occurred = datetime.fromisoformat(row["occurred_at"])
    resource = f"{row['resource_type']}:{row['resource_id']}" if row["resource_type"] else row["resource_id"]
    values = {**row, "_resource": resource}
    extension: list[tuple[str, Any]] = [
        ("rt", int(occurred.timestamp() * 1000)),
        ("act", row["action"]),
        ("outcome", row["outcome"]),
        ("suser", row["actor_label"]),
        ("suid", f"{row['actor_type']}:{row['actor_id']}" if row["actor_id"] else row["actor_type"]),
        ("spriv", row["actor_role"]),
        ("src", row["source_ip"]),
        ("requestClientApplication", row["user_agent"]),
        ("filePath", row["path"]),
        ("externalId", row["id"]),
        ("cn1", row["organization_id"]),
        ("cn1Label", "organizationId"),
        ("cn2", row["project_id"]),
        ("cn2Label", "projectId"),
    ]
    for number, (label, key) in enumerate(CUSTOM_STRINGS, start=1):
        extension += [(f"cs{number}", values[key]), (f"cs{number}Label", label)]
    details = {"environment": row["environment"], "metadata": row["metadata"]}
    extension.append(("msg", json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=True)))
    header = [
        "CEF:0",
        "Strongroom",
        "Strongroom",
        version,
        row["action"],
        row["action"],
        str(cef_severity(row["action"], row["outcome"])),
    ]
    ext = " ".join(f"{key}={cef_escape_extension(value)}" for key, value in extension if value not in (None, ""))
    return "|".join(cef_escape_header(field) if i else field for i, field in enumerate(header)) + "|" + ext


def cef_stream_test_line(event: dict[str, Any], *, version: str) -> str:
    """One CEF line for an audit stream's test event (``{"type": "strongroom.stream_test",
    "organization_id", "sent_at", ...}``): signature id ``strongroom.stream_test``, severity 1."""
    sent = datetime.fromisoformat(event["sent_at"])
    details = {key: value for key, value in event.items() if key not in ("type", "organization_id", "sent_at")}
    extension: list[tuple[str, Any]] = [
        ("rt", int(sent.timestamp() * 1000)),
        ("cn1", event.get("organization_id")),
        ("cn1Label", "organizationId"),
        ("msg", json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=True)),
    ]
    header = ["CEF:0", "Strongroom", "Strongroom", version, event["type"], "Strongroom stream test", "1"]
    ext = " ".join(f"{key}={cef_escape_extension(value)}" for key, value in extension if value not in (None, ""))
    return "|".join(cef_escape_header(field) if i else field for i, field in enumerate(header)) + "|" + ext
