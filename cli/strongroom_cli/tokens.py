"""Reading (never verifying) the claims of a JWT access token, and renewing or re-issuing it."""

from __future__ import annotations

import base64
import json
import time

from strongroom_cli.http import Client


def claims(token: str) -> dict:
    """The payload of a JWT-shaped token, or {} for anything else (e.g. an ``srp_…`` API token)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")).decode("utf-8"))
    except (ValueError, UnicodeError):
        return {}
    return data if isinstance(data, dict) else {}


def seconds_left(token: str, now: float | None = None) -> float | None:
    exp = claims(token).get("exp")
    if not isinstance(exp, (int, float)):
        return None
    return exp - (time.time() if now is None else now)


def needs_renewal(token: str, interval: float, now: float | None = None) -> bool:
    """True once a third of the token's lifetime (or two polling intervals, if more) remains."""
    data = claims(token)
    exp, iat = data.get("exp"), data.get("iat")
    if not isinstance(exp, (int, float)):
        return False
    now = time.time() if now is None else now
    lifetime = exp - iat if isinstance(iat, (int, float)) and exp > iat else 3600
    return exp - now <= max(2 * interval, lifetime / 3)


def renew(client: Client, token: str) -> str:
    """A fresh access token for *token* (``POST /api/v1/auth/token/renew``); raises CliError."""
    answer = client.request(
        "POST", "/api/v1/auth/token/renew", body={"accessToken": token}, auth=False, idempotent_post=False
    )
    if not isinstance(answer, dict) or not isinstance(answer.get("accessToken"), str):
        from strongroom_cli.errors import SERVER, CliError

        raise CliError("token renewal answered without an accessToken", SERVER)
    return answer["accessToken"]
