"""Access control in one place: the vocabulary (``rules``), the decision (``decision``), who may
grant what (``containment``), the words a refusal uses (``phrases``) and enforcement (``enforcement.require``:
refuse with 403 and audit the refusal). Every surface asks these; nothing else decides access
(``tests/secrets_app/test_one_decision_point.py``). ``enforcement`` is imported by its full name: it
writes audit rows, the rest are pure."""

from __future__ import annotations

from secrets_app.policy.containment import grants_beyond
from secrets_app.policy.decision import ProjectAccess
from secrets_app.policy.rules import (
    ACTIONS,
    BUILTIN_RULES,
    SCOPED_SUBJECTS,
    Rule,
    actions_matching,
    is_known_action_pattern,
    is_scoped,
)

__all__ = [
    "ACTIONS",
    "BUILTIN_RULES",
    "SCOPED_SUBJECTS",
    "ProjectAccess",
    "Rule",
    "actions_matching",
    "grants_beyond",
    "is_known_action_pattern",
    "is_scoped",
]
