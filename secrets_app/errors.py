"""Domain errors raised by services and selectors; interfaces map them to HTTP/CLI answers."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationFailed(DomainError):
    status = 400
    code = "validation_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", fields={field: [message]})


class NotFound(DomainError):
    """Also raised for objects the caller may not see, so the two are indistinguishable."""

    status = 404
    code = "not_found"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition_failed"


class SecretQuarantined(DomainError):
    """A single read of a quarantined secret (governance): 423 Locked, naming the quarantine."""

    status = 423
    code = "secret_quarantined"
