"""Statement rendering never lets a value out of its quotes (property tests, checked by the real
servers reading the value back), splitting keeps DO blocks whole, usernames and passwords obey
their rules."""

from __future__ import annotations

import re
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynamic.providers.templates import (
    MYSQL,
    POSTGRESQL,
    USERNAME_RE,
    PasswordRequirements,
    TemplateError,
    generate_password,
    password_requirements_from,
    render_statement,
    render_username,
    split_statements,
)
from tests.dynamic.conftest import mysql_admin, mysql_available, pg_admin, postgres_available

# Anything a value might hold, except what the renderer refuses outright (backslash, NUL, '$').
VALUES = st.text(
    alphabet=st.characters(blacklist_characters="\\\x00$", blacklist_categories=("Cs",)), min_size=1, max_size=40
)
EVIL = ["'", "''", '"', "`", "'; DROP ROLE x; --", '"; DROP TABLE t; --', "*/ SELECT 1 /*", "-- ", "#", "a'b\"c`d"]
# MariaDB identifiers hold the Basic Multilingual Plane only (utf8mb3) and may not end with a space.
MYSQL_VALUES = st.text(
    alphabet=st.characters(blacklist_characters="\\\x00$", blacklist_categories=("Cs",), max_codepoint=0xFFFF),
    min_size=1,
    max_size=40,
).map(lambda text: text.rstrip() or "x")
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def pg() -> Any:
    if not postgres_available():
        pytest.skip("PostgreSQL is not running on 127.0.0.1")
    with pg_admin() as conn:
        yield conn


@pytest.fixture(scope="module")
def my() -> Any:
    if not mysql_available():
        pytest.skip("MariaDB is not running on 127.0.0.1")
    conn = mysql_admin()
    yield conn
    conn.close()


@PROPERTY
@given(value=VALUES)
def test_postgresql_reads_back_exactly_the_value_from_a_literal_and_an_identifier(pg: Any, value: Any) -> None:
    statement = render_statement("SELECT '{{v}}' AS \"{{v}}\"", {"v": value}, POSTGRESQL)
    cursor = pg.execute(statement.encode())

    assert cursor.fetchone() == (value,)
    assert cursor.description[0].name == value[:63] or len(value.encode()) > 63


@PROPERTY
@given(value=VALUES)
def test_postgresql_reads_back_the_value_inside_a_do_block(pg: Any, value: Any) -> None:
    statement = render_statement(
        "DO $$ BEGIN PERFORM set_config('strongroom.probe', '{{v}}', false); END $$", {"v": value}, POSTGRESQL
    )
    pg.execute(statement.encode())

    assert pg.execute("SELECT current_setting('strongroom.probe')").fetchone() == (value,)


@PROPERTY
@given(value=MYSQL_VALUES)
def test_mariadb_reads_back_exactly_the_value_from_a_literal_and_identifiers(my: Any, value: Any) -> None:
    statement = render_statement("SELECT '{{v}}' AS `{{v}}`, \"{{v}}\"", {"v": value}, MYSQL)
    with my.cursor() as cursor:
        cursor.execute(statement)
        row = cursor.fetchone()

    assert row == (value, value)


@pytest.mark.parametrize("value", EVIL)
def test_hostile_values_stay_one_statement_in_every_quote(value: str) -> None:
    for dialect, template in (
        (POSTGRESQL, 'CREATE ROLE "{{v}}" PASSWORD \'{{v}}\'; DROP ROLE "{{v}}"'),
        (MYSQL, "CREATE USER '{{v}}'@'%' IDENTIFIED BY \"{{v}}\"; GRANT ALL ON `{{v}}`.* TO '{{v}}'"),
    ):
        rendered = render_statement(template, {"v": value}, dialect)
        assert len(split_statements(rendered, dialect)) == 2, rendered


@pytest.mark.parametrize("value", ["a\\'b", "nul\x00", "dollar$$", "x$tag$"])
def test_values_that_could_change_quoting_rules_are_refused(value: str) -> None:
    for dialect in (POSTGRESQL, MYSQL):
        with pytest.raises(TemplateError, match="never rendered"):
            render_statement("SELECT '{{v}}'", {"v": value}, dialect)
    with pytest.raises(TemplateError, match="never rendered"):
        render_statement("DO $$ BEGIN PERFORM '{{v}}'; END $$", {"v": value}, POSTGRESQL)


def test_a_placeholder_outside_quotes_takes_only_plain_names() -> None:
    assert render_statement("GRANT ALL ON {{database}}.* TO x", {"database": "app_1"}, MYSQL).startswith(
        "GRANT ALL ON app_1.*"
    )
    with pytest.raises(TemplateError, match="inside quotes"):
        render_statement("GRANT ALL ON {{database}}.* TO x", {"database": "app; DROP"}, MYSQL)


def test_splitting_keeps_do_blocks_quotes_and_comments_whole() -> None:
    text = (
        "DO $$ BEGIN CREATE ROLE a; GRANT b TO a; END $$;\n"
        "-- a comment; with a semicolon\n"
        "COMMENT ON ROLE a IS 'x; y';\n"
        "DO $body$ BEGIN PERFORM 1; END $body$;;"
    )
    parts = split_statements(text, POSTGRESQL)

    assert parts == [
        "DO $$ BEGIN CREATE ROLE a; GRANT b TO a; END $$",
        "-- a comment; with a semicolon\nCOMMENT ON ROLE a IS 'x; y'",
        "DO $body$ BEGIN PERFORM 1; END $body$",
    ]
    with pytest.raises(TemplateError, match="unterminated"):
        split_statements("SELECT 'open", POSTGRESQL)


@given(label=st.text(max_size=80), name=st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True))
def test_usernames_always_match_the_allowed_shape(label: str, name: str) -> None:
    username = render_username(
        "{{identity.name}}-{{dynamicSecret.name}}-{{random 8}}", identity_label=label, secret_name=name, secret_type="x"
    )

    assert USERNAME_RE.match(username) and len(username) <= 63


def test_the_default_username_fits_mysql_and_templates_are_checked() -> None:
    assert re.fullmatch(
        r"sr-[a-z0-9]{24}", render_username("", identity_label="a", secret_name="b", secret_type="c", max_length=32)
    )
    with pytest.raises(TemplateError, match="at most 32"):
        render_username("{{randomUsername}}-x", identity_label="a", secret_name="b", secret_type="c", max_length=32)
    with pytest.raises(TemplateError, match="unknown variable"):
        render_username("{{password}}", identity_label="a", secret_name="b", secret_type="c")


@given(
    length=st.integers(12, 80),
    counts=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
)
def test_passwords_honour_their_requirements(length: int, counts: tuple[int, int, int, int]) -> None:
    lower, upper, digits, symbols = counts
    requirements = password_requirements_from(
        {"length": length, "required": {"lowercase": lower, "uppercase": upper, "digits": digits, "symbols": symbols}}
    )
    password = generate_password(requirements)

    assert len(password) == length
    assert sum(c in string.ascii_lowercase for c in password) >= lower
    assert sum(c in string.ascii_uppercase for c in password) >= upper
    assert sum(c in string.digits for c in password) >= digits
    assert sum(c in requirements.allowed_symbols for c in password) >= symbols
    assert not set(password) & set("'\"`\\$; ")


def test_password_requirements_are_refused_naming_the_field() -> None:
    with pytest.raises(TemplateError, match="allowedSymbols"):
        password_requirements_from({"length": 20, "allowedSymbols": "'"})
    with pytest.raises(TemplateError, match="required"):
        password_requirements_from({"length": 12, "required": {"digits": 13}})
    assert PasswordRequirements().as_dict()["length"] == 48
