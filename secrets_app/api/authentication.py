from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer srp_…`` personal API tokens (hashed at rest, revocable)."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'")
        from secrets_app.services.tokens import personal_token_authenticate

        user, token = personal_token_authenticate(raw_token=parts[1])
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token")
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
