"""Test overrides on top of the one settings module."""

from __future__ import annotations

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STRONGROOM_AUDIT_SEAL_DELAY_SECONDS = 0

# A fresh root key per test process unless the environment gives one (never the embedded file).
if not STRONGROOM_ROOT_KEY:  # noqa: F405
    import base64
    import os

    STRONGROOM_ROOT_KEY = base64.b64encode(os.urandom(32)).decode()
STRONGROOM_EMBEDDED_ROOT_KEY_PATH = DATA_DIR / "test-root.key.absent"  # noqa: F405

# Parallel test processes share one Redis database: keep their cache keys apart.
CACHES["default"]["KEY_PREFIX"] = "test-" + __import__("os").environ.get("PYTEST_XDIST_WORKER", "main")  # noqa: F405

# Login rate limits are exercised by their own tests (override_settings); the rest of the suite logs in freely.
STRONGROOM_LOGIN_RATE_PER_MINUTE = 100_000
STRONGROOM_API_READ_RATE_PER_MINUTE = 100_000
STRONGROOM_API_WRITE_RATE_PER_MINUTE = 100_000

# People's login lockout is exercised by tests/security/test_people_auth.py (override_settings); the
# rest of the suite logs in (and fails on purpose) many times from 127.0.0.1 with the same cast.
STRONGROOM_LOGIN_LOCKOUT_THRESHOLD = 100_000
STRONGROOM_LOGIN_LOCKOUT_IP_THRESHOLD = 100_000
# Tests count audit rows; tests/audit/test_noise.py turns denial de-duplication on with a key
# prefix of its own (database ids repeat from test to test, and the cache outlives them).
STRONGROOM_AUDIT_DENIAL_WINDOW_SECONDS = 0

# transactional_db empties the database after each test with DELETE instead of TRUNCATE (about
# 1-5 s less per such test); see tests/support/postgresql_delete_flush/base.py.
if DATABASES["default"]["ENGINE"] == "config.postgresql":  # noqa: F405
    DATABASES["default"]["ENGINE"] = "tests.support.postgresql_delete_flush"  # noqa: F405
