"""Test overrides on top of the one settings module."""

from __future__ import annotations

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STRONGROOM_AUDIT_SEAL_DELAY_SECONDS = 0
