"""Shared fixtures: a generated root key for the run, and the fixed cast.

alice: project admin (owner) · bob: project member · charlie: in the organization, no project access.
"""

from __future__ import annotations

import base64
import os

import pytest

# A fresh root key per test run, set before Django reads settings.
os.environ.setdefault("STRONGROOM_ROOT_KEY", base64.b64encode(os.urandom(32)).decode())


@pytest.fixture(autouse=True)
def _fresh_keyring() -> None:
    """Each test starts from an unloaded keyring (its database may be new)."""
    from secrets_app.keyring import keyring

    keyring.reset()
