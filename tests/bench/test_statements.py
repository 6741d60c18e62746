"""The statements bench (bench/statements.py, bench/profile_split.py) reads its figures right."""

from __future__ import annotations

import cProfile
import hmac
import pstats

from bench.profile_split import split
from bench.statements import normalise, per_request


def test_it_counts_savepoints_of_every_request_as_one_statement_kind() -> None:
    rows = [
        ('SAVEPOINT "s140211_x1"', 3, 0.3, True),
        ('SAVEPOINT "s140212_x1"', 1, 0.1, True),
        ('RELEASE SAVEPOINT "s140211_x1"', 4, 0.2, True),
        ("SELECT  1\n FROM t WHERE id = $1", 4, 2.0, True),
    ]
    result = per_request(rows, requests=2)
    assert result["statements_per_request"] == 6.0
    assert {"calls_per_request": 2.0, "exec_ms_per_request": 0.2, "sql": "SAVEPOINT sN"} in result["statements"]
    assert normalise('RELEASE SAVEPOINT "s9_x12"') == "RELEASE SAVEPOINT sN"


def test_it_lists_foreign_key_checks_apart_from_what_the_client_sent() -> None:
    rows = [
        ("INSERT INTO t (a) VALUES ($1)", 10, 5.0, True),
        # PostgreSQL 15 reports deferred foreign-key checks as top-level: they fire at commit.
        ('SELECT 1 FROM ONLY "public"."p" x WHERE "id" OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF x', 10, 1.0, True),
        ("SELECT 2", 10, 1.0, False),
    ]
    result = per_request(rows, requests=10)
    assert result["statements_per_request"] == 1.0
    assert result["nested_per_request"] == 2.0
    assert len(result["nested"]) == 2


def test_it_puts_hmac_time_under_crypto_and_all_self_time_in_some_category() -> None:
    def work() -> None:
        for _ in range(2000):
            hmac.new(b"k" * 32, b"m" * 64, "sha256").digest()

    profiler = cProfile.Profile()
    profiler.runcall(work)
    result = split(pstats.Stats(profiler).stats)  # type: ignore[attr-defined]
    assert result["inclusive_share"]["crypto"] > 0.5
    assert abs(sum(result["self_share"].values()) - 1) < 0.01
