"""Stored ciphertext that fails its integrity check (security-bar C2).

A flipped byte, a ciphertext copied from another secret, version or project, or one sealed under a
key that no longer exists all fail AES-GCM authentication against the secret's AAD. The read then
fails with a generic 500-class error carrying the request id (never garbage, never the wrong
secret), and ``secret.integrity_failed`` (outcome ``error``) is audited for the reader.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from audit.models import Outcome
from secrets_app.crypto.secret_fields import SecretIntegrityError

if TYPE_CHECKING:
    from secrets_app.selectors.access import ProjectScope

logger = logging.getLogger("strongroom.security")

P = ParamSpec("P")
R = TypeVar("R")


def secret_integrity_failure_record(*, scope: ProjectScope, failure: SecretIntegrityError) -> None:
    """Audit ``secret.integrity_failed`` for the reader in *scope* and log a security event."""
    secret = failure.secret
    environment = secret.environment.slug if secret.environment_id else ""
    path = secret.folder.path if secret.folder_id else ""
    logger.error(
        "integrity_failure: secret %s version %s field %s did not authenticate",
        secret.pk,
        failure.version,
        failure.field,
    )
    scope.audit(
        "secret.integrity_failed",
        outcome=Outcome.ERROR,
        environment=environment,
        path=path,
        resource_type="secret",
        resource_id=secret.key,
        metadata={"secret_id": secret.pk, "version": failure.version, "field": failure.field},
    )


def audits_integrity_failures(read: Callable[P, R]) -> Callable[P, R]:
    """Decorate a selector whose ``scope`` (first argument, or the keyword) is the reader's: an
    integrity failure inside it is audited for that reader, then re-raised (the API answers it as a
    generic integrity error)."""

    @functools.wraps(read)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return read(*args, **kwargs)
        except SecretIntegrityError as failure:
            scope = kwargs["scope"] if "scope" in kwargs else args[0]
            secret_integrity_failure_record(scope=scope, failure=failure)  # type: ignore[arg-type]
            raise

    return wrapper
