"""Settings documentation cannot drift: the table in docs/operations.md and .env.example both follow
config/settings.py (scripts/settings_table.py reads it)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import config.env

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "settings_table.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("settings_table_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


settings_table = _load()


def _names(settings: list[Any]) -> set[str]:
    return {setting.name for setting in settings}


def test_the_committed_table_in_operations_md_is_the_generated_one() -> None:
    document = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")

    assert settings_table.with_table(document, settings_table.markdown_table()) == document, (
        "docs/operations.md's settings table is out of date: run .venv/bin/python scripts/settings_table.py --write"
    )


def test_the_table_names_every_setting_with_its_default_and_comment() -> None:
    rows = {s.name: s for s in settings_table.settings_read()}

    assert rows["STRONGROOM_SESSION_IDLE_SECONDS"].default == "`1800`"  # 30 * 60, evaluated
    assert rows["STRONGROOM_DATA_KEY_MAX_ENCRYPTIONS"].default == "`1073741824`"  # 2**30
    assert rows["STRONGROOM_ALLOWED_HOSTS"].default == "`127.0.0.1,localhost,[::1]`"
    assert rows["STRONGROOM_DEBUG"].default == "`false`"
    assert rows["STRONGROOM_SYNC_QUEUE"].default == "(empty)"
    assert rows["DATABASE_URL"].default == "(unset)"
    assert rows["STRONGROOM_LOG_LEVEL"].description == "Root logger level: DEBUG, INFO, WARNING, ERROR."
    # Read only in a branch this environment may not take (Redis broker, gevent pool): still listed.
    assert {"CELERY_VISIBILITY_TIMEOUT", "STRONGROOM_DB_POOL_SIZE", "STRONGROOM_HSTS_SECONDS"} <= set(rows)
    assert all(row.description for row in rows.values())


def test_every_variable_the_settings_module_read_at_import_is_in_the_table() -> None:
    settings_file = str(ROOT / "config" / "settings.py")
    read_at_import = {name for name, readers in config.env.READS.items() if settings_file in readers}

    assert "STRONGROOM_SECRET_KEY" in read_at_import  # the registry saw the import of the settings module
    assert read_at_import <= _names(settings_table.settings_read())


def test_a_read_the_generator_cannot_document_is_refused() -> None:
    bad_sources = {
        "X = env_int(NAME, 3)\n": "literal variable name",
        'import os\nX = os.environ.get("STRONGROOM_Y")\n': "not os.environ",
        'X = env_int("STRONGROOM_UNDESCRIBED", 3)\n': "STRONGROOM_UNDESCRIBED",
        '# A thing.\nX = env_int("STRONGROOM_Z", compute())\n': "COMPUTED_DEFAULTS",
        '# A.\nX = env_int("STRONGROOM_W", 1)\n# B.\nY = env_int("STRONGROOM_W", 2)\n': "read twice",
    }
    for source, message in bad_sources.items():
        with pytest.raises(settings_table.SettingsSourceError, match=message):
            settings_table.settings_from_source(source)


def test_a_group_under_one_comment_points_at_the_setting_that_carries_it() -> None:
    group = (
        "# Lockout: N failures lock an account.\n"
        'A = env_int("STRONGROOM_A", 5)\n'
        'B = env_int("STRONGROOM_B", 2 * 60)  # seconds\n'
        'C = env_bool("STRONGROOM_C")\n'
    )
    settings = settings_table.settings_from_source(group + '# Queue.\nD = env_str("STRONGROOM_D", "") or ""\n')
    by_name = {s.name: (s.default, s.description) for s in settings}

    assert by_name["STRONGROOM_A"] == ("`5`", "Lockout: N failures lock an account.")
    assert by_name["STRONGROOM_B"] == ("`120`", "Seconds.")  # its own inline comment
    assert by_name["STRONGROOM_C"] == ("`false`", "See `STRONGROOM_B`.")
    assert by_name["STRONGROOM_D"] == ("(empty)", "Queue.")
    # After a blank line, or an unrelated statement, nothing is inherited.
    for gap in ("\n", "E = 1\n"):
        with pytest.raises(settings_table.SettingsSourceError, match="STRONGROOM_D"):
            settings_table.settings_from_source(group + gap + 'D = env_str("STRONGROOM_D", "") or ""\n')


def test_each_variable_read_elsewhere_is_mentioned_by_the_file_said_to_read_it() -> None:
    for setting in settings_table.READ_ELSEWHERE:
        reader = ROOT / setting.read_by
        assert setting.name in reader.read_text(encoding="utf-8"), f"{setting.read_by} no longer reads {setting.name}"


def test_env_example_mentions_every_setting_and_nothing_else() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    mentioned = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    read = _names(settings_table.settings_read()) | _names(list(settings_table.READ_ELSEWHERE))
    as_files = {f"{name}_FILE" for name in read}  # config/env.py reads NAME_FILE for every NAME

    assert sorted(read - mentioned) == [], ".env.example lacks these settings"
    assert sorted(mentioned - read - as_files) == [], ".env.example mentions variables nothing reads"
    assert "STRONGROOM_SYNC_CA_BUNDLE" in mentioned


# Named in the docs only to say they are gone.
NAMED_AS_GONE = {"STRONGROOM_ALLOW_INSECURE_ISSUERS"}


def test_every_variable_the_docs_name_is_read_somewhere() -> None:
    """A STRONGROOM_* or CELERY_* name in README.md or docs/*.md is a setting above, or is read by
    some other code of the repository (the CLI's variables, test knobs, pipeline variables)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    pattern = re.compile(r"\b(?:STRONGROOM|CELERY)_[A-Z0-9_]*[A-Z0-9]")
    documented = {name for page in pages for name in pattern.findall(page.read_text(encoding="utf-8"))}
    settings = _names(settings_table.settings_read()) | _names(list(settings_table.READ_ELSEWHERE))
    tracked = subprocess.run(
        ["git", "ls-files", "*.py", "*.yml", "*.toml", "Makefile", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    code = "\n".join((ROOT / path).read_text(encoding="utf-8") for path in tracked if (ROOT / path).is_file())
    in_code = set(pattern.findall(code))

    unknown = {
        name
        for name in documented - settings - NAMED_AS_GONE
        if name not in in_code and name.removesuffix("_FILE") not in settings
    }
    assert sorted(unknown) == []
    assert "STRONGROOM_SYNC_CA_BUNDLE" in documented & settings


def _literal_defaults() -> dict[str, str]:
    """Settings whose default is one literal value, as text (computed and unset defaults excluded)."""
    found = {}
    for setting in settings_table.settings_read():
        if setting.name in settings_table.COMPUTED_DEFAULTS:
            continue
        if setting.default == "(empty)":
            found[setting.name] = ""
        elif re.fullmatch(r"`[^`]*`", setting.default):
            found[setting.name] = setting.default.strip("`")
    return found


def test_env_example_shows_each_literal_default_as_the_code_has_it() -> None:
    defaults = _literal_defaults()
    shown = re.findall(r"^# ?([A-Z][A-Z0-9_]*)=(.*)$", (ROOT / ".env.example").read_text(encoding="utf-8"), re.M)
    wrong = [
        f"{name}={value} (code: {defaults[name]!r})" for name, value in shown if defaults.get(name, value) != value
    ]

    assert len([name for name, _ in shown if name in defaults]) >= 80
    assert wrong == []


def test_numbers_in_the_docs_settings_tables_are_the_code_defaults() -> None:
    """A docs table row ``| `NAME` | 300 | …`` states the default: it must be the code's."""
    defaults = _literal_defaults()
    wrong = []
    checked = 0
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        if settings_table.START_MARKER in text:  # the generated table agrees by construction
            start, end = text.index(settings_table.START_MARKER), text.index(settings_table.END_MARKER)
            text = text[:start] + "\n" * text.count("\n", start, end) + text[end:]
        for number, line in enumerate(text.splitlines(), 1):
            row = re.match(r"\|\s*`([A-Z0-9_]+)`\s*\|\s*`?(\d+)`?\s*\|", line)
            if not (row and row.group(1) in defaults):
                continue
            checked += 1
            if defaults[row.group(1)] != row.group(2):
                wrong.append(
                    f"docs/{page.name}:{number}: {row.group(1)} = {row.group(2)}, code: {defaults[row.group(1)]}"
                )

    assert wrong == []
