"""Refusals specific to change requests (DomainErrors: every interface maps them already)."""

from __future__ import annotations

from secrets_app.errors import DomainError


class MergeBlocked(DomainError):
    """The request may not be merged yet: quorum missing, a rejection, or a hard policy."""

    status = 409
    code = "approval_required"


class MergeConflict(DomainError):
    """The secrets changed since the request was opened: rebase or close, never overwrite."""

    status = 409
    code = "merge_conflict"

    def __init__(self, conflicts: list[dict[str, str]]) -> None:
        names = [c["key"] or c["op"] for c in conflicts]
        super().__init__(
            "The change conflicts with changes made since it was opened: "
            + ", ".join(names)
            + ". Rebase the request (approvers review again) or close it.",
            fields={"conflicts": names},
        )
        self.conflicts = conflicts


class RequestNotOpen(DomainError):
    status = 409
    code = "request_not_open"
