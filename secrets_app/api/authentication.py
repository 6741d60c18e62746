from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from secrets_app.middleware import client_ip
from secrets_app.principals import Principal


class IdentityRequestUser:
    """``request.user`` for a machine identity: authenticated, never a Django user."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_superuser = False

    def __init__(self, identity: Any, *, access_epoch: int | None = None, token_id: int | None = None) -> None:
        self.identity = identity
        self.pk = identity.pk
        self.principal = Principal.for_identity(identity, access_epoch=access_epoch, token_id=token_id)

    def get_username(self) -> str:
        return str(self.identity.name)

    def __repr__(self) -> str:
        return f"<IdentityRequestUser {self.identity.name}>"


def principal_of(user: Any) -> Principal:
    """The principal behind ``request.user`` (a person or a machine identity)."""
    return getattr(user, "principal", None) or Principal.for_user(user)


class BearerAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>``: a person's API token (``srp_…``, hashed at rest) or a
    machine identity's access token (a JWT checked against its row on every request). A token that
    is refused is audited once as ``token.rejected`` (outcome deny), named by its row, never by itself."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        from secrets_app.request_audit import token_rejected_record

        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            # Whatever followed is not recorded: it may be a credential in the wrong place.
            token_rejected_record(raw_token=None, reason="malformed Authorization header", surface="api")
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'")
        raw = parts[1]
        from secrets_app.identities.access_tokens import (
            TokenError,
            access_token_authenticate,
            looks_like_identity_token,
        )

        if looks_like_identity_token(raw):
            try:
                row = access_token_authenticate(raw_token=raw, ip=client_ip(request._request))
            except TokenError as exc:
                token_rejected_record(raw_token=raw, reason=exc.reason, surface="api")
                raise exceptions.AuthenticationFailed(exc.reason) from None
            return IdentityRequestUser(
                row.identity, access_epoch=getattr(row, "access_epoch", None), token_id=row.pk
            ), row
        from secrets_app.services.personal_tokens import personal_token_authenticate

        user, token = personal_token_authenticate(raw_token=raw)
        if user is None:
            token_rejected_record(raw_token=raw, reason="Invalid, expired or revoked token", surface="api")
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token")
        user.principal = Principal.for_user(user, access_epoch=getattr(token, "access_epoch", None))
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


# The name settings.REST_FRAMEWORK used first.
PersonalTokenAuthentication = BearerAuthentication


class IsPerson(BasePermission):
    """For endpoints about a person's own account (tokens, password, /me): identities are refused."""

    message = "This endpoint is for people; machine identities cannot use it"

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(
            request.user and request.user.is_authenticated and not isinstance(request.user, IdentityRequestUser)
        )
