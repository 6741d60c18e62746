"""Exit codes and the one error type the commands raise.

Every failure ends as one line on stderr (``strongroom: error: …``) and one of these codes; a
traceback is never shown and a message never contains a secret value or a token.
"""

from __future__ import annotations

OK = 0
USAGE = 1  # bad flags or input, or a request the server refused as invalid (400, 409, 412, …)
AUTH = 2  # no token, or bad credentials / token (401)
FORBIDDEN = 3  # 403
NOT_FOUND = 4  # 404: project, environment, folder or secret missing or invisible
UNREACHABLE = 5  # network error, timeout, DNS, TLS: after retries
SEALED = 6  # 503 "sealed": the server has no usable root key
SERVER = 7  # 429 / 5xx after retries, or an answer that is not the API's
PENDING_APPROVAL = 8  # 202: a change policy held the write; a change request waits for review
ROTATION_RUNNING = 9  # rotations rotate: 409, a run already holds the rotation
ROTATION_FAILED = 10  # rotations rotate --wait: the run ended failed
WAIT_TIMEOUT = 11  # rotations rotate --wait: the run had not finished within --timeout
COMMAND_NOT_EXECUTABLE = 126  # run: the command exists but cannot be executed
COMMAND_NOT_FOUND = 127  # run: the command was not found

EXIT_CODES = {
    OK: "success",
    USAGE: "usage error or invalid request",
    AUTH: "not authenticated: missing, bad or expired credentials or token",
    FORBIDDEN: "forbidden: the identity may not do this here",
    NOT_FOUND: "not found: project, environment, folder or secret",
    UNREACHABLE: "server unreachable",
    SEALED: "server sealed",
    SERVER: "rate limited or server error (after retries)",
    PENDING_APPROVAL: "held for approval: a change request was opened, nothing was written yet",
    ROTATION_RUNNING: "a rotation of this credential is already running",
    ROTATION_FAILED: "the rotation ran and failed (the owned secrets still hold the previous credential)",
    WAIT_TIMEOUT: "gave up waiting for the rotation to finish (it may still finish)",
}


class CliError(Exception):
    """A failure to report as one line; ``code`` is the process exit code."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class PendingApproval(CliError):
    """The server held a write for review (HTTP 202 ``pending_approval``). Reported as one line of
    its own (no ``error:`` prefix): ``Change request <id> opened: needs N approval(s) — <url>``."""

    def __init__(self, request_id: str, needed: int, url: str) -> None:
        plural = "approval" if needed == 1 else "approvals"
        super().__init__(f"Change request {request_id} opened: needs {needed} {plural} — {url}", PENDING_APPROVAL)
        self.request_id = request_id
        self.url = url
