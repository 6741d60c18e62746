"""The write gate: how another app holds a secret write for review instead of letting it apply.

The core never imports ``approvals``. Approvals registers a gate at startup
(``write_gate_register`` in its ``AppConfig.ready``); every write service of the core describes the
change it is about to make as a ``WriteIntent`` and calls ``write_gate_check`` *after* validating
the input and checking the caller's permission (a person who may not write gets 403, not a change
request) and *before* its own transaction. When a gate holds the write, the service raises
``HeldForApproval`` carrying the gate's answer; every interface turns that into its own reply
(REST 202, compat 200 ``{"approval": …}``, a UI banner, a CLI exit code).

The gate records the held change in its own transaction, so the call must not run inside an
outer ``transaction.atomic()`` that the exception would roll back. Interfaces that wrap several
service calls in one transaction (compat batches) check the whole intent first, outside it.

Writes that must never be held (a merge of an approved request, a rotation switching a password)
run inside ``write_gate_bypassed()``; they are audited as what they are by their caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secrets_app.models import Environment, Folder
    from secrets_app.selectors.access import ProjectScope


class ChangeOp:
    """What one proposed change does. Per-key operations carry the key; folder operations do not."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ROLLBACK_SECRET = "rollback_secret"  # noqa: S105 - an op name. Key back to ``target_version``
    ROLLBACK_FOLDER = "rollback_folder"  # whole folder back to ``commit_id``
    FOLDER_DELETE = "folder_delete"  # the folder (and everything under it)

    ALL = (CREATE, UPDATE, DELETE, ROLLBACK_SECRET, ROLLBACK_FOLDER, FOLDER_DELETE)


@dataclass(frozen=True)
class ProposedChange:
    """One change as the caller asked for it. ``value`` and ``comment`` are plaintext in memory
    only: a gate that keeps them must seal them like secret values. ``repr`` hides them."""

    op: str
    key: str = ""
    value: str | None = field(default=None, repr=False)
    comment: str | None = field(default=None, repr=False)
    tags: tuple[str, ...] | None = None
    new_key: str | None = None
    secret_type: str = "shared"  # noqa: S105 - a secret type, not a password
    base_version: int | None = None  # the live secret's version the change was based on (None: create)
    target_version: int | None = None  # ROLLBACK_SECRET
    commit_id: int | None = None  # ROLLBACK_FOLDER: the commit to go back to
    base_commit_id: int | None = None  # folder operations: the folder's newest commit when asked
    metadata: dict[str, Any] = field(default_factory=dict)  # owner_label, purpose, expires_at (ISO)


@dataclass(frozen=True)
class WriteIntent:
    """A write about to happen: who, where, what. ``operation`` names the service
    (``secret.create``, ``secret.bulk_upserted``, ``folder.rollback``…) for messages and audit."""

    scope: ProjectScope
    environment: Environment
    folder: Folder
    operation: str
    changes: tuple[ProposedChange, ...]

    @property
    def keys(self) -> list[str]:
        return [change.key for change in self.changes if change.key]


@dataclass(frozen=True)
class HeldWrite:
    """A gate's answer when it held a write. The bodies are built by the gate so the core stays
    ignorant of what a change request looks like; none of them may contain a value."""

    kind: str  # "change_request"
    id: str  # the request's public id
    url: str  # absolute URL of the review page
    message: str  # one line for people: "Change request CR-12 opened: needs 2 approvals (policy prod-guard)"
    api_body: dict[str, Any]  # the REST API's 202 body
    compat_body: dict[str, Any]  # Infisical's ``{"approval": …}`` body


class HeldForApproval(Exception):  # noqa: N818 - it is an outcome, not a failure
    """Raised by a write service when a gate held the write: nothing was applied, a request was
    opened. Interfaces map it to their own answer; it is never a 5xx."""

    def __init__(self, held: HeldWrite) -> None:
        super().__init__(held.message)
        self.held = held


WriteGate = Callable[[WriteIntent], "HeldWrite | None"]

_gates: list[WriteGate] = []
_bypass: ContextVar[str | None] = ContextVar("strongroom_write_gate_bypass", default=None)


def write_gate_register(gate: WriteGate) -> None:
    """Add *gate* (idempotent: registering the same callable twice keeps one)."""
    if gate not in _gates:
        _gates.append(gate)


def write_gate_unregister(gate: WriteGate) -> None:
    if gate in _gates:
        _gates.remove(gate)


def write_gate_check(intent: WriteIntent) -> None:
    """Raise ``HeldForApproval`` when a registered gate holds *intent*; return when it may apply."""
    if _bypass.get() is not None or not intent.changes:
        return
    for gate in _gates:
        held = gate(intent)
        if held is not None:
            raise HeldForApproval(held)


def write_gate_bypass_reason() -> str | None:
    """Why the gate is open in this context (``change_request:<id>``, ``rotation``…), else None."""
    return _bypass.get()


@contextmanager
def write_gate_bypassed(reason: str) -> Iterator[None]:
    """Apply writes without asking the gates: the merge of an approved request, system writes.
    *reason* is recorded by the caller's audit events (``write_gate_bypass_reason``)."""
    token = _bypass.set(reason)
    try:
        yield
    finally:
        _bypass.reset(token)
