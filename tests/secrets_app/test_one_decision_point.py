"""Access is decided in one place: ``secrets_app/policy/`` (the rules) and ``secrets_app/selectors/access.py``
(who the caller is). A surface that compares role names itself ("is this the admin role?") decides access on its
own and drifts from the rules; it must ask ``ProjectAccess.can`` / ``.is_admin`` or ``is_org_admin`` instead.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("secrets_app", "audit", "syncs", "notifications", "approvals", "dynamic", "rotation", "governance", "estate")
DECIDERS = {ROOT / "secrets_app/selectors/access.py"}
ADMIN_NAMES = {"ADMIN", "OWNER"}
TEMPLATE_ROLE_TEST = re.compile(r"""\brole\s*[!=]=\s*["'](admin|member|viewer)["']""")


def _is_role(node: ast.expr) -> bool:
    """A role someone holds (``access.role``, ``role``). A *target's* ``builtin_role`` (keep one admin; only an admin
    changes an admin) is a rule about the membership being changed, not a decision about the caller."""
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return name == "role"


def _is_role_name(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in ("admin", "owner")
    return isinstance(node, ast.Attribute) and node.attr in ADMIN_NAMES and isinstance(node.value, ast.Name)


def test_it_compares_role_names_only_in_the_decision_point() -> None:
    offenders = []
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            if path in DECIDERS or "policy" in path.parts or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if not isinstance(node, ast.Compare) or not isinstance(node.ops[0], ast.Eq | ast.NotEq):
                    continue
                left, right = node.left, node.comparators[0]
                if (_is_role(left) and _is_role_name(right)) or (_is_role(right) and _is_role_name(left)):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == [], f"role names compared outside the decision point: {offenders}"


def test_templates_ask_what_a_person_may_do_not_which_role_they_hold() -> None:
    offenders = []
    for path in sorted([*(ROOT / "templates").rglob("*.html"), *ROOT.glob("*/kinds/*/*.html")]):
        if path.name == "role_badge.html":  # colours a badge by its slug; decides nothing
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if TEMPLATE_ROLE_TEST.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == [], f"templates deciding by role name: {offenders}"
