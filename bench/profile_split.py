"""Split a cProfile run of N requests into the shares issue 14 asks about.

Two views of the same ``pstats.Stats.stats`` dict ({function: (cc, nc, tottime, cumtime, callers)},
where ``callers`` maps each caller to the (cc, nc, tottime, cumtime) of that edge):

* ``inclusive_share``: time spent inside a category including everything it called, counted where
  control enters it from outside, so nesting is not counted twice:
  - ``orm_compile``: ``*Compiler.as_sql`` entered from ``*Compiler.execute_sql`` (the SQL text for
    every executed query; subqueries compile inside their outer query's as_sql);
  - ``db_driver``: psycopg entered from anything that is not psycopg (execute, fetch, commit and the
    network wait for PostgreSQL's answer);
  - ``serialisation``: DRF serializers/fields/renderers, the compat response shapes and ``json``;
  - ``audit``: the ``audit`` app and ``secrets_app/request_audit.py`` (their own ORM and driver
    time included, so this overlaps the two above);
  - ``crypto``: ``cryptography``, ``hmac``/``hashlib``, ``secrets_app/crypto``, keyring, passwords;
  - ``redis``: the redis client and Django's Redis cache backend, network wait included.
  These overlap one another (audit contains compile and driver time) and do not sum to 100%.
* ``self_share``: every function's own time (tottime) in the category of its file, a C function's
  time in its caller's category; these sum to 100%. Helpers a category calls (django.utils,
  model fields) count where they live, so ``inclusive_share`` is the figure for compile and driver.
"""

from __future__ import annotations

from typing import Any

Func = tuple[str, int, str]

SELF_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("db_driver", ("/psycopg/", "/psycopg_binary/", "/psycopg_c/", "/django/db/backends/")),
    (
        "orm_compile",
        (
            "/django/db/models/sql/compiler.py",
            "/django/db/models/sql/where.py",
            "/django/db/models/expressions.py",
            "/django/db/models/lookups.py",
            "/django/db/models/sql/datastructures.py",
            "/django/db/models/functions/",
        ),
    ),
    (
        "orm_build",
        (
            "/django/db/models/sql/query.py",
            "/django/db/models/query.py",
            "/django/db/models/query_utils.py",
            "/django/db/models/sql/subqueries.py",
            "/django/db/models/manager.py",
            "/django/db/models/deletion.py",
        ),
    ),
    ("orm_other", ("/django/db/",)),
    ("audit", ("/audit/", "secrets_app/request_audit.py")),
    (
        "crypto",
        (
            "/cryptography/",
            "/hmac.py",
            "/hashlib.py",
            "secrets_app/crypto/",
            "secrets_app/keyring.py",
            "secrets_app/passwords.py",
            "/argon2/",
        ),
    ),
    (
        "serialisation",
        (
            "/rest_framework/serializers.py",
            "/rest_framework/fields.py",
            "/rest_framework/renderers.py",
            "/rest_framework/relations.py",
            "/rest_framework/utils/",
            "/json/",
            "secrets_app/compat/responses.py",
            "secrets_app/api/serializers/",
        ),
    ),
    ("drf_other", ("/rest_framework/",)),
    ("redis", ("/redis/", "/django_redis/", "django/core/cache/backends/redis.py")),
    ("django_other", ("/django/",)),
    ("strongroom", ("secrets_app/", "config/", "dynamic/", "rotation/", "syncs/", "approvals/", "notifications/")),
)
# C functions (filename "~") that belong to a category by name; the rest go to their caller's.
BUILTIN_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("crypto", ("_hashlib", "_hmac", "openssl", "cryptography", "AESGCM", "ChaCha20", "argon2")),
    ("db_driver", ("psycopg",)),
)
INCLUSIVE = ("orm_compile", "db_driver", "serialisation", "audit", "crypto", "redis")


def category(func: Func) -> str:
    filename, _line, name = func
    if filename == "~":
        for label, needles in BUILTIN_RULES:
            if any(needle in name for needle in needles):
                return label
        return ""  # the caller's
    path = filename.replace("\\", "/")
    for label, needles in SELF_RULES:
        if any(needle in path for needle in needles):
            if label == "orm_compile" and name in ("execute_sql", "results_iter", "apply_converters"):
                return "orm_other"  # running the query, not compiling it
            return label
    return "other"


def _is_compile_entry(func: Func, caller: Func) -> bool:
    return (
        func[0].endswith("django/db/models/sql/compiler.py")
        and func[2] == "as_sql"
        and caller[0].endswith("django/db/models/sql/compiler.py")
        and caller[2] == "execute_sql"
    )


def split(stats: dict[Func, tuple[Any, ...]]) -> dict[str, Any]:
    """Shares (0..1) of the profiled time; see the module docstring for what each one counts."""
    total = sum(entry[2] for entry in stats.values())
    own: dict[str, float] = {}
    inclusive = dict.fromkeys(INCLUSIVE, 0.0)
    for func, (_cc, _nc, tottime, _cumtime, callers) in stats.items():
        label = category(func)
        if label:
            own[label] = own.get(label, 0.0) + tottime
        else:
            for caller, edge in callers.items():
                caller_label = category(caller) or "other"
                own[caller_label] = own.get(caller_label, 0.0) + edge[2]
        for caller, edge in callers.items():
            caller_label = category(caller)
            if label == "orm_compile" or caller_label == "orm_compile":
                if _is_compile_entry(func, caller):
                    inclusive["orm_compile"] += edge[3]
                continue
            if label in inclusive and label != caller_label:
                inclusive[label] += edge[3]
    if not total:
        return {"self_share": {}, "inclusive_share": {}}
    heaviest = sorted(stats.items(), key=lambda item: -item[1][2])[:10]
    return {
        "top_self": [
            {
                "function": f"{func[0].rsplit('site-packages/', 1)[-1]}:{func[1]}:{func[2]}",
                "category": category(func) or "(caller's)",
                "share": round(entry[2] / total, 3),
            }
            for func, entry in heaviest
        ],
        "profiled_seconds": round(total, 3),
        "self_share": {key: round(value / total, 3) for key, value in sorted(own.items(), key=lambda kv: -kv[1])},
        "inclusive_share": {key: round(value / total, 3) for key, value in inclusive.items()},
    }
