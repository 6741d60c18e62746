"""The settings table in docs/operations.md, generated from config/settings.py so it cannot drift.

    .venv/bin/python scripts/settings_table.py            # print the table (Markdown)
    .venv/bin/python scripts/settings_table.py --write    # replace it between the markers in docs/operations.md
    .venv/bin/python scripts/settings_table.py --check    # exit 1 when docs/operations.md is out of date

Contract:

- Every environment variable ``config/settings.py`` reads goes through ``config/env.py``'s helpers
  (``env_str``, ``env_int``, ``env_bool``, ``env_list``) with a literal name. They are found in the
  source with :mod:`ast` (so reads inside ``if`` branches the current environment does not take are
  found too); a read with a computed name, or ``os.environ`` used directly, is an error.
- A setting's default is the helper's default argument (or the ``or`` fallback after the call) when
  it is a literal; otherwise it must be described in :data:`COMPUTED_DEFAULTS` (and every entry
  there must still be a computed default).
- A setting's description is its inline comment, else the comment block directly above the line
  (section rulers ``# --- … ---`` only when nothing else is there), else the comment above its
  statement, else the description of the setting read on the line just before it (a group of
  settings under one comment). A setting without any description is an error.
- :data:`READ_ELSEWHERE` lists the variables read outside the settings module (gunicorn, compose,
  commands); each names the file that reads it, and that file must mention it.
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_FILE = ROOT / "config" / "settings.py"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
START_MARKER = "<!-- settings-table:start -->"
END_MARKER = "<!-- settings-table:end -->"
HELPERS: dict[str, object] = {"env_str": None, "env_int": None, "env_bool": False, "env_list": []}

#: Defaults that are computed, not literal: how the table states them.
COMPUTED_DEFAULTS: dict[str, str] = {
    "STRONGROOM_DATA_DIR": "`./var` (next to `manage.py`)",
    "STRONGROOM_SECRET_KEY": "generated once into `$STRONGROOM_DATA_DIR/django-secret.key`",
    "STRONGROOM_DB_CONN_MAX_AGE": "`0` under gunicorn's gevent worker, else `60`",
    "STRONGROOM_HTTPS": "`true` when `STRONGROOM_SITE_URL` starts with `https://`",
    "STRONGROOM_SECURE_COOKIES": "`STRONGROOM_HTTPS`",
    "STRONGROOM_AUDIT_ANCHOR_PATH": "`$STRONGROOM_DATA_DIR/audit-anchor.jsonl`",
    "CELERY_BROKER_URL": "`REDIS_URL`, else `filesystem://` (in the data directory)",
    "STRONGROOM_EMAIL_BACKEND": "SMTP when `DATABASE_URL` is set, else the file backend",
    "STRONGROOM_EMAIL_FILE_PATH": "`$STRONGROOM_DATA_DIR/mail`",
}


@dataclass(frozen=True)
class Setting:
    name: str
    default: str  # Markdown
    description: str  # Markdown, one line
    read_by: str = "config/settings.py"


#: Variables read outside config/settings.py (each by the file named), with their defaults.
READ_ELSEWHERE: tuple[Setting, ...] = (
    Setting(
        "STRONGROOM_SYNC_CA_BUNDLE",
        "(system trust store)",
        "PEM file of a private CA that the Azure Key Vault and Entra sync providers trust "
        "(a Django setting of the same name wins).",
        "syncs/providers/entra.py",
    ),
    Setting(
        "STRONGROOM_APP_DATABASE_URL",
        "(unset)",
        "`manage.py db_roles` (run as the owner): the app role's name and password, as web, worker and beat use them.",
        "audit/management/commands/db_roles.py",
    ),
    Setting("WEB_CONCURRENCY", "`2`", "gunicorn worker processes.", "config/gunicorn.py"),
    Setting(
        "STRONGROOM_WEB_CONNECTIONS", "`1000`", "Connections each gunicorn worker serves at once.", "config/gunicorn.py"
    ),
    Setting(
        "STRONGROOM_WORKER_CLASS",
        "`gevent`",
        "gunicorn worker class: gevent (the only one protected from slow clients), sync or gthread.",
        "config/gunicorn.py",
    ),
    Setting(
        "STRONGROOM_HEADER_TIMEOUT",
        "`5`",
        "Seconds a request line and headers may take to arrive (also the keep-alive idle time).",
        "config/gunicorn.py",
    ),
    Setting(
        "PROMETHEUS_MULTIPROC_DIR",
        "`$STRONGROOM_DATA_DIR/metrics`",
        "Where gunicorn's workers keep their metrics files (emptied at start).",
        "config/gunicorn.py",
    ),
    Setting("PORT", "`8000`", "Port of `make run`'s web server (always bound to 127.0.0.1).", "scripts/launch.py"),
    Setting(
        "STRONGROOM_ADMIN_EMAIL",
        "`admin@strongroom.local`",
        "The first admin `manage.py bootstrap` creates.",
        "secrets_app/management/commands/bootstrap.py",
    ),
    Setting(
        "STRONGROOM_ADMIN_PASSWORD",
        "(generated, printed once)",
        "That admin's password.",
        "secrets_app/management/commands/bootstrap.py",
    ),
    Setting("STRONGROOM_HOSTNAME", "(none)", "docker compose: the public host name.", "docker-compose.yml"),
    Setting("STRONGROOM_PORT", "`8000`", "docker compose: the published web port.", "docker-compose.yml"),
    Setting("WORKER_CONCURRENCY", "(CPU count)", "docker compose: Celery worker processes.", "docker-compose.yml"),
)


class SettingsSourceError(ValueError):
    """config/settings.py reads a setting in a way this generator cannot document."""


def _comments_by_line(source: str) -> tuple[dict[int, str], dict[int, str]]:
    """(whole-line comments, trailing comments) keyed by 1-based line number, text without ``#``."""
    whole: dict[int, str] = {}
    trailing: dict[int, str] = {}
    lines = source.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        line_no, col = token.start
        text = token.string.lstrip("#").strip()
        if lines[line_no - 1][:col].strip():
            trailing[line_no] = text
        else:
            whole[line_no] = text
    return whole, trailing


def _is_ruler(text: str) -> bool:
    return text.startswith("---")


def _block_above(line: int, whole: dict[int, str]) -> str:
    block: list[str] = []
    current = line - 1
    while current in whole:
        block.insert(0, whole[current])
        current -= 1
    prose = [text for text in block if not _is_ruler(text)]
    if not prose:
        prose = [text.strip("- ") for text in block]
    return " ".join(text for text in prose if text)


def _join(*parts: str) -> str:
    text = " ".join(part.rstrip(".") + "." for part in parts if part)
    return text[0].upper() + text[1:] if text else ""


def _literal(node: ast.expr | None) -> tuple[bool, object]:
    """(is literal, value) for constants, lists of constants and arithmetic on numbers."""
    if node is None:
        return True, None
    try:
        value = ast.literal_eval(node)
    except ValueError:
        pass
    else:
        return True, value
    if isinstance(node, ast.BinOp):
        left_ok, left = _literal(node.left)
        right_ok, right = _literal(node.right)
        if left_ok and right_ok and isinstance(left, int) and isinstance(right, int):
            if isinstance(node.op, ast.Add):
                return True, left + right
            if isinstance(node.op, ast.Sub):
                return True, left - right
            if isinstance(node.op, ast.Mult):
                return True, left * right
            if isinstance(node.op, ast.Pow) and right >= 0:
                return True, left**right
    return False, None


def _render(value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (list, tuple)):
        return f"`{','.join(str(item) for item in value)}`" if value else "(empty)"
    if value == "":
        return "(empty)"
    return f"`{value}`"


def settings_from_source(source: str) -> list[Setting]:
    """Every variable the settings source reads through config/env.py, in source order."""
    tree = ast.parse(source)
    whole, trailing = _comments_by_line(source)
    parents: dict[ast.AST, ast.AST] = {}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            parents[child] = parent
        if isinstance(parent, ast.Attribute) and parent.attr in {"environ", "getenv"}:
            raise SettingsSourceError(
                f"line {parent.lineno}: read settings through config/env.py, not os.{parent.attr}"
            )

    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in HELPERS
    ]
    calls.sort(key=lambda node: (node.lineno, node.col_offset))
    found: list[Setting] = []
    seen: set[str] = set()
    undescribed: list[str] = []
    previous: tuple[int, str] | None = None  # (last line of the previous read's statement, whose comment it had)
    for call in calls:
        if not call.args or not isinstance(call.args[0], ast.Constant) or not isinstance(call.args[0].value, str):
            raise SettingsSourceError(f"line {call.lineno}: {call.func.id}() needs a literal variable name")  # type: ignore[attr-defined]
        name = call.args[0].value
        if name in seen:
            raise SettingsSourceError(f"line {call.lineno}: {name} is read twice; read it once and reuse the value")
        seen.add(name)

        helper = call.func.id  # type: ignore[attr-defined]
        default_node = call.args[1] if len(call.args) > 1 else None
        for keyword in call.keywords:
            if keyword.arg == "default":
                default_node = keyword.value
        is_literal, value = _literal(default_node)
        if default_node is None:
            value = HELPERS[helper]
        outer = parents.get(call)
        if is_literal and value in (None, "") and isinstance(outer, ast.BoolOp) and isinstance(outer.op, ast.Or):
            fallback = outer.values[outer.values.index(call) + 1]  # `env_str(X) or <fallback>`
            is_literal, value = _literal(fallback)
        if name in COMPUTED_DEFAULTS:
            if is_literal:
                raise SettingsSourceError(f"{name}: its default is literal now; remove it from COMPUTED_DEFAULTS")
            default = COMPUTED_DEFAULTS[name]
        elif is_literal:
            default = _render(value)
        else:
            raise SettingsSourceError(
                f"line {call.lineno}: {name}'s default is computed; describe it in COMPUTED_DEFAULTS"
            )

        node: ast.AST = call
        while not isinstance(node, ast.stmt):
            node = parents[node]
        statement = node
        description = _join(_block_above(call.lineno, whole), trailing.get(call.lineno, ""))
        if not description and statement.lineno != call.lineno:
            description = _join(_block_above(statement.lineno, whole), trailing.get(statement.lineno, ""))
        owner = name
        if not description and previous is not None and previous[0] == statement.lineno - 1:
            owner = previous[1]
            description = f"See `{owner}`."  # one comment above a group of settings
        if not description:
            undescribed.append(f"{name} (line {call.lineno})")
        previous = (statement.end_lineno or statement.lineno, owner)
        found.append(Setting(name, default, description.replace("|", "\\|")))

    if undescribed:
        raise SettingsSourceError("no comment above (add one in config/settings.py): " + ", ".join(undescribed))
    return found


def settings_read() -> list[Setting]:
    """What config/settings.py reads; COMPUTED_DEFAULTS may name nothing else."""
    found = settings_from_source(SETTINGS_FILE.read_text(encoding="utf-8"))
    stale = set(COMPUTED_DEFAULTS) - {setting.name for setting in found}
    if stale:
        raise SettingsSourceError(f"COMPUTED_DEFAULTS names settings that are no longer read: {sorted(stale)}")
    return found


def markdown_table() -> str:
    lines = [
        START_MARKER,
        "<!-- generated from config/settings.py by `scripts/settings_table.py --write`; do not edit by hand -->",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| `{s.name}` | {s.default} | {s.description} |" for s in settings_read()]
    lines += [
        "",
        "Read outside `config/settings.py`:",
        "",
        "| variable | default | read by | meaning |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{s.name}` | {s.default} | `{s.read_by}` | {s.description} |" for s in READ_ELSEWHERE]
    lines.append(END_MARKER)
    return "\n".join(lines)


def with_table(document: str, table: str) -> str:
    """``document`` with the text between (and including) the markers replaced by ``table``."""
    start = document.find(START_MARKER)
    end = document.find(END_MARKER)
    if start < 0 or end < start:
        raise SettingsSourceError(f"{OPERATIONS_DOC.name} lacks the {START_MARKER} … {END_MARKER} markers")
    return document[:start] + table + document[end + len(END_MARKER) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="update docs/operations.md in place")
    mode.add_argument("--check", action="store_true", help="exit 1 when docs/operations.md is out of date")
    args = parser.parse_args(argv)
    table = markdown_table()
    if not (args.write or args.check):
        print(table)
        return 0
    current = OPERATIONS_DOC.read_text(encoding="utf-8")
    wanted = with_table(current, table)
    if args.check:
        if wanted != current:
            print("docs/operations.md's settings table is out of date: run scripts/settings_table.py --write")
            return 1
        return 0
    OPERATIONS_DOC.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
