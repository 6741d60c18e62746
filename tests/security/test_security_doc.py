"""docs/security.md stays true: one row per check of the security bar (section 6), every test it
names exists, and no row claims "holds" without a test behind it."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
# Section 6 of the security bar: 40 checks.
CHECK_IDS = (
    [f"A{n}" for n in range(1, 7)]
    + [f"B{n}" for n in range(1, 8)]
    + [f"C{n}" for n in range(1, 6)]
    + [f"D{n}" for n in range(1, 5)]
    + [f"E{n}" for n in range(1, 5)]
    + [f"F{n}" for n in range(1, 9)]
    + [f"G{n}" for n in range(1, 4)]
    + [f"H{n}" for n in range(1, 4)]
)
STATUSES = ("holds", "partly holds", "pending", "n/a")
ROW = re.compile(r"^\|\s*([A-H][0-9])\s*\|(.*)\|\s*$")
NODE = re.compile(r"`(tests/[\w/]+\.py)::([\w:]+)(?:\[[^\]]*\])?`")
# A whole file, optionally with some of its tests: `tests/x.py` (`test_a`, `test_b`, …)
FILE = re.compile(r"`(tests/[\w/]+\.py)`(?:\s*\(([^)]*)\))?")
NAME = re.compile(r"`([\w:]+)(?:\[[^\]]*\])?`")


def _tests_of(cell: str) -> list[tuple[str, str]]:
    """(file, test) pairs a cell names; a file named alone stands for all of its tests (name "*")."""
    found = NODE.findall(cell)
    for path, names in FILE.findall(cell):
        found.append((path, "*"))
        found += [(path, name) for name in NAME.findall(names or "")]
    return found


def _rows() -> dict[str, tuple[str, str, list[tuple[str, str]]]]:
    """check id -> (what it checks, status, [(file, test name)])."""
    rows: dict[str, tuple[str, str, list[tuple[str, str]]]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if not match:
            continue
        check_id = match.group(1)
        cells = [cell.strip() for cell in match.group(2).split("|")]
        assert len(cells) == 3, f"{check_id}: a row has four cells (id, what, status, tests): {line}"
        assert check_id not in rows, f"{check_id} has two rows"
        rows[check_id] = (cells[0], cells[1], _tests_of(cells[2]))
    return rows


@functools.cache
def _test_names(path: str) -> frozenset[str]:
    """Test functions of a file, as pytest names them: ``test_x`` and ``TestClass::test_x``."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names |= {
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test")
            }
    return frozenset(names)


def test_every_check_of_the_security_bar_has_one_row() -> None:
    rows = _rows()

    assert sorted(rows) == sorted(CHECK_IDS), (
        f"missing: {set(CHECK_IDS) - set(rows)}, extra: {set(rows) - set(CHECK_IDS)}"
    )
    for check_id, (what, status, _tests) in rows.items():
        assert what, f"{check_id} says nothing about what it checks"
        assert status.startswith(STATUSES), f"{check_id}: unknown status {status!r}"


def test_every_test_the_page_names_exists() -> None:
    missing = [
        f"{check_id}: {path}::{name}"
        for check_id, (_what, _status, tests) in _rows().items()
        for path, name in tests
        if not (ROOT / path).is_file() or (name != "*" and name not in _test_names(path))
    ]

    assert missing == [], "docs/security.md names tests that do not exist:\n" + "\n".join(missing)


def test_nothing_holds_without_a_test() -> None:
    bare = [
        check_id
        for check_id, (_what, status, tests) in _rows().items()
        if status.startswith(("holds", "partly holds")) and not tests
    ]

    assert bare == [], f"rows that claim to hold with no test: {bare}"


def test_tests_named_by_a_check_id_are_listed_on_the_page() -> None:
    """A test called ``test_<ID>_…`` under tests/security proves part of check <ID>: the page lists it
    under that check."""
    rows = _rows()
    listed = {(path, name) for _what, _status, tests in rows.values() for path, name in tests}
    unlisted = []
    for path in sorted((ROOT / "tests" / "security").glob("test_*.py")):
        relative = str(path.relative_to(ROOT))
        for name in _test_names(relative):
            match = re.match(r"test_([A-H][0-9])_", name)
            whole = (relative, "*") in listed
            if match and not whole and (relative, name) not in listed:
                unlisted.append(f"{match.group(1)}: {relative}::{name}")

    assert unlisted == [], "tests named by a check id but missing from docs/security.md:\n" + "\n".join(unlisted)
