"""Quarantined secrets on the read path, and the hook through which the governance app hears of a
refused read.

The core never imports ``governance``: it only reads ``Secret.quarantined_at``. A list leaves a
quarantined secret out and names it (``QuarantinedKey``, a warning for the caller); a single get of
one is refused (423) and audited here, then the registered handler (``quarantine_refusal_register``
in governance's ``AppConfig.ready``) counts the refusal on the quarantine and alerts the owner —
the refused caller is the hidden consumer the quarantine is meant to find. The handler answers a
short reason for the error message.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from audit.models import Outcome
from secrets_app.errors import SecretQuarantined

logger = logging.getLogger("strongroom.quarantine")


@dataclass(frozen=True)
class QuarantinedKey:
    """A key a read left out because it is quarantined: a name, never a value."""

    label: str  # KEY in the folder read, /path:KEY below it, env:/path:KEY from an import or reference
    since: datetime.datetime

    @property
    def warning(self) -> str:
        return f"{self.label} is quarantined since {self.since:%Y-%m-%d} and was left out; ask an admin to restore it"


@dataclass(frozen=True)
class RefusedRead:
    """Who was refused which quarantined secret (names and ids only, never a value)."""

    scope: Any  # the reader's ProjectScope
    secret_id: int
    key: str
    environment: str
    path: str
    quarantined_at: datetime.datetime


# RefusedRead -> a short reason for the error message ("not delivered for 97 days"), or None.
Handler = Callable[[RefusedRead], "str | None"]
_handlers: list[Handler] = []


def quarantine_refusal_register(handler: Handler) -> None:
    """Register *handler* (idempotent: ``ready()`` may run twice in tests)."""
    if handler not in _handlers:
        _handlers.append(handler)


def quarantine_refusal_report(refused: RefusedRead) -> str | None:
    """Tell the handlers; the first reason any of them gives. A failing handler is logged (by
    secret id) and never turns the refusal into a server error: the read is refused either way."""
    reason = None
    for handler in _handlers:
        try:
            answer = handler(refused)
        except Exception:
            logger.exception("quarantine refusal handler failed for secret %s", refused.secret_id)
            continue
        reason = reason or answer
    return reason


def quarantined_keys(
    held: Iterable[Any], environment: str, path: str, tag_filter: list[str] | None = None
) -> list[QuarantinedKey]:
    """The quarantined live secrets *held* (``LiveSecret``), named relative to the place read."""
    found = []
    for secret in held:
        if tag_filter and not set(tag_filter) & set(secret.tag_slugs):
            continue
        if secret.environment.slug != environment:
            label = f"{secret.environment.slug}:{secret.folder.path}:{secret.key}"
        else:
            label = secret.key if secret.folder.path == path else f"{secret.folder.path}:{secret.key}"
        found.append(QuarantinedKey(label=label, since=secret.quarantined_at))
    return sorted(found, key=lambda item: item.label)


def quarantined_read_refuse(scope: Any, *, environment: str, path: str, view: Any) -> None:
    """A single read of the quarantined secret *view* (a ``SecretView``) at the place asked for:
    audited as ``secret.quarantined_read_refused`` (outcome deny, its own committed INSERT),
    reported to the handlers, then SecretQuarantined (423) naming the quarantine. Always raises."""
    since: datetime.datetime = view.quarantined_at
    scope.audit(
        "secret.quarantined_read_refused",
        outcome=Outcome.DENY,
        environment=environment,
        path=path,
        resource_type="secret",
        resource_id=view.key,
        metadata={
            "keys": [f"{view.path}:{view.key}" if view.path != path else view.key],
            "ids": [view.id],
            "quarantined_at": since.isoformat(),
            **({"token": scope.principal.token_id} if scope.principal.token_id is not None else {}),
        },
    )
    reason = quarantine_refusal_report(
        RefusedRead(
            scope=scope,
            secret_id=view.id,
            key=view.key,
            environment=view.environment,
            path=view.path,
            quarantined_at=since,
        )
    )
    detail = f" ({reason})" if reason else ""
    raise SecretQuarantined(
        f"Secret {view.key} is quarantined since {since:%Y-%m-%d}{detail}; ask an admin to restore it"
    )
