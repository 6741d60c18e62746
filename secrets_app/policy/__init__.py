"""Access control in one place: the vocabulary (``rules``), the decision (``decision``) and who may
grant what (``containment``). Every surface asks these; nothing else decides access."""

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
