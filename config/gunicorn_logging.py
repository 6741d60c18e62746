"""gunicorn's access log without credentials carried in a URL path.

An e-mailed invitation link (``/invite/<token>/``, secrets_app/services/invitations.py) is a
credential until it is accepted: the one request that carries it is logged with the token replaced
(request line, path and Referer), so whoever reads the access log cannot accept someone else's
invitation. Importable without Django (gunicorn's master loads it by name).
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

_INVITATION_TOKEN = re.compile(r"(/invite/)(?!accept/)[^/?#\s]+")
REDACTED = "[redacted]"


def redact_path_credentials(text: str) -> str:
    """*text* with the token of any invitation link replaced (``/invite/[redacted]/``)."""
    return _INVITATION_TOKEN.sub(r"\1" + REDACTED, text)


class RedactingAccessLogger(Logger):
    """gunicorn's Logger whose access-log atoms carry no invitation token."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        # Every atom a format could name: the request line, path, Referer, and the raw headers and
        # environ variables gunicorn also offers ({referer}i, {raw_uri}e, ...).
        return {
            key: redact_path_credentials(value) if isinstance(value, str) else value for key, value in atoms.items()
        }
