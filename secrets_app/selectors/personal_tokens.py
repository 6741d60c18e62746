"""A person's own personal API tokens (never the token itself: only its prefix is stored in clear)."""

from __future__ import annotations

from typing import Any

from secrets_app.models import PersonalAccessToken


def personal_token_list(user: Any) -> list[PersonalAccessToken]:
    """The user's tokens, newest first, revoked ones included (so the list explains what stopped working)."""
    return list(PersonalAccessToken.objects.filter(user=user).order_by("-created_at", "-id"))
