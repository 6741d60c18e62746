"""People's password hashing, kept off the gevent hub.

PBKDF2 with Django's 1,000,000 iterations takes about 0.2 s of CPU. Under gunicorn's gevent worker
(config/gunicorn.py) every request of a worker shares one thread, so each sign-in attempt, right or
wrong, would stall that worker's other requests (/healthz included) for as long: a cheap denial of
service for anyone who can post the login form. ``hashlib.pbkdf2_hmac`` releases the GIL, so the
hash runs in gevent's thread pool instead and the worker keeps serving meanwhile. Outside gevent
(commands, tests, the Celery worker) it runs inline, as Django's hasher does.
"""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth.hashers import PBKDF2PasswordHasher


def _gevent_active() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("socket"))


class OffHubPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's ``pbkdf2_sha256`` (same algorithm name and encoding: existing hashes verify and
    new ones are interchangeable), computed in a thread when gevent runs the server."""

    def encode(self, password: str, salt: str, iterations: int | None = None) -> str:
        if not _gevent_active():
            return super().encode(password, salt, iterations)
        import gevent

        result: Any = gevent.get_hub().threadpool.apply(PBKDF2PasswordHasher.encode, (self, password, salt, iterations))
        return str(result)
