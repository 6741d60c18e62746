"""Canary sweeps: collect everything Strongroom wrote (a ``pg_dump`` of its database, every key of a
Redis database, the log records of this process, rows as JSON) and look for known secrets in it in
every encoding ``tests/secrets_app/test_canary.py`` knows. PostgreSQL test database only."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection

from tests.secrets_app.test_canary import encodings


def redis_dump(url: str) -> bytes:
    """Every key and value of the Redis database at *url*, whatever its type."""
    import redis

    client: Any = redis.Redis.from_url(url)  # bytes replies (no decode_responses)
    parts: list[bytes] = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        parts.append(key)
        if kind == "string":
            parts.append(client.get(key) or b"")
        elif kind == "list":
            parts += client.lrange(key, 0, -1)
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                parts += [field, value]
        elif kind == "set":
            parts += list(client.smembers(key))
        elif kind == "zset":
            parts += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
    return b"\n".join(parts)


def pg_dump() -> bytes:
    """A plain-SQL dump of the test database (every table, every row)."""
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    command = ["pg_dump", "--no-owner", "-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432)]
    command += ["-U", db.get("USER") or "postgres", db["NAME"]]
    return subprocess.run(command, capture_output=True, env=env, check=True, timeout=120).stdout


def rows(queryset: Iterable[Any]) -> bytes:
    """Rows (``Model.objects.values()``) as JSON bytes, every column included."""
    return json.dumps(list(queryset), default=str, ensure_ascii=False).encode()


@contextmanager
def process_log(path: Path) -> Iterator[Path]:
    """Every log record of this process (root logger, DEBUG and up) written to *path* meanwhile."""
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        handler.close()


def canaries_found(canaries: Mapping[str, str], places: Mapping[str, bytes]) -> list[str]:
    """``"<canary> in <place>"`` for every canary found in any encoding; names only, never values."""
    return [
        f"{name} in {place}"
        for name, value in canaries.items()
        for place, haystack in places.items()
        if any(form in haystack for form in encodings(value))
    ]
