"""Per-process caches keyed by the access epoch (access_cache/epoch.py).

Everything here is derived from rows the epoch triggers watch, so an entry is exact for as long as
the epoch it was stored under is current. Entries of older epochs are dropped the first time a newer
epoch is seen. Only requests in autocommit use the cache (the API's reads, and the scope lookups writes make
before their transaction): inside a transaction the epoch is the last committed one while the
transaction may already see its own uncommitted changes, which must never be cached. A reader that
sees an older epoch than the cache's (its statement ran just before a commit another request has
already seen) neither reads nor writes the cache.

An entry may also carry ``valid_until``: the moment it stops being true without any row changing (a
temporary grant that opens or ends). It is not served from that moment on.

No Redis, no network: with the shared cache down, reads and writes keep working.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.db import connections

T = TypeVar("T")

MAX_ENTRIES = 20_000


class EpochCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._epoch: dict[str, int] = {}  # database name → the epoch the entries belong to
        self._entries: dict[tuple[str, Hashable], tuple[Any, datetime.datetime | None]] = {}
        self._max = max_entries
        self.hits = 0
        self.misses = 0

    def _usable(self, database: str, epoch: int) -> bool:
        """Whether entries for *epoch* may be read and written: a newer epoch replaces the entries,
        an older one (read just before a commit another request has already seen) bypasses them."""
        current = self._epoch.get(database)
        if current == epoch:
            return True
        if current is not None and epoch < current:
            return False
        with self._lock:
            current = self._epoch.get(database)
            if current is None or epoch > current:
                self._entries = {key: value for key, value in self._entries.items() if key[0] != database}
                self._epoch[database] = epoch
        return self._epoch.get(database) == epoch

    def get_or_compute(
        self,
        epoch: int | None,
        key: Hashable,
        compute: Callable[[], tuple[T, datetime.datetime | None]],
        *,
        now: Callable[[], datetime.datetime] | None = None,
        using: str = "default",
    ) -> T:
        """The cached value for *key* at *epoch*, else ``compute()`` → (value, valid_until) stored.
        With *epoch* None (no epoch on this database) nothing is cached."""
        connection = connections[using]
        if epoch is None or connection.in_atomic_block:
            # Inside a transaction the epoch read is the last *committed* one (it moves at COMMIT)
            # while this transaction may already see its own uncommitted changes to access.
            return compute()[0]
        database = str(connection.settings_dict.get("NAME"))
        usable = self._usable(database, epoch)
        if usable:
            found = self._entries.get((database, key))
            if found is not None:
                cached: T = found[0]
                until: datetime.datetime | None = found[1]
                if until is None or (now or _utcnow)() < until:
                    self.hits += 1
                    return cached
        self.misses += 1
        value, valid_until = compute()
        if usable and self._epoch.get(database) == epoch:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[(database, key)] = (value, valid_until)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._epoch.clear()


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


access_cache = EpochCache()
