"""The vocabulary of access: actions, rules and the built-in roles. Pure data, no queries.

Actions are dotted ``subject.verb`` names. ``secrets.read`` lists names and metadata;
``secrets.read_value`` returns values: the two are separate so a viewer never receives a value.
Actions of the subjects in ``SCOPED_SUBJECTS`` are asked at a place (environment + folder path,
plus the secret's tags for ``secrets.*``); every other action is asked of the whole project.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

ACTIONS: dict[str, str] = {
    "secrets.read": "List secret names and metadata",
    "secrets.read_value": "Read secret values",
    "secrets.create": "Create secrets",
    "secrets.edit": "Update secrets",
    "secrets.delete": "Delete secrets",
    "secrets.rollback": "Roll secrets and folders back to earlier versions",
    "folders.read": "List folders",
    "folders.create": "Create folders",
    "folders.edit": "Rename folders",
    "folders.delete": "Delete folders",
    "imports.read": "List secret imports",
    "imports.create": "Create secret imports",
    "imports.delete": "Delete secret imports",
    "environments.manage": "Add, rename, reorder and delete environments",
    "tags.manage": "Create and delete tags",
    "members.read": "List project members",
    "members.manage": "Add, change and remove project members",
    "roles.read": "List roles",
    "roles.manage": "Create, change and delete custom roles",
    "project.edit": "Rename the project",
    "project.delete": "Delete the project",
    "audit.read": "Read the project's audit log",
    "syncs.read": "List secret syncs, their status, history and drift",
    "syncs.manage": "Create, change, delete and trigger secret syncs (pushes values out of Strongroom)",
    "approvals.manage": "Create, change and delete approval policies (who must approve changes and access)",
    "dynamic_secrets.manage": "Define, change and delete dynamic secrets (root database credentials); force-revoke leases",
    "rotations.manage": "Define, change and delete credential rotations (root credentials of the target)",
    "rotations.rotate": "Rotate a credential now",
    "governance.read": "See the governance figures: what was delivered to whom, risk flags, parity, proposals",
    "governance.manage": "Quarantine and restore secrets, flag leaks, set the governance policy, apply proposals",
}

# Actions that are about a place in the secret tree; all others are project-wide.
SCOPED_SUBJECTS = ("secrets.", "folders.", "imports.")


def is_scoped(action: str) -> bool:
    return action.startswith(SCOPED_SUBJECTS)


def is_known_action_pattern(action: str) -> bool:
    """``*``, an exact action, or ``subject.*`` for a subject that has actions."""
    if action == "*" or action in ACTIONS:
        return True
    return action.endswith(".*") and any(known.startswith(action[:-1]) for known in ACTIONS)


def actions_matching(pattern: str) -> tuple[str, ...]:
    """The concrete actions a rule's action pattern covers."""
    return tuple(action for action in ACTIONS if fnmatch.fnmatchcase(action, pattern))


@dataclass(frozen=True)
class Rule:
    """``effect`` on ``action`` limited to environments (empty: all, including future ones), a
    segment path glob and tags (empty: whatever the tags; otherwise secrets carrying any of them)."""

    effect: str  # "allow" | "deny"
    action: str  # exact action, "subject.*" or "*"
    environments: frozenset[str] = frozenset()
    path: str = "/**"
    tags: frozenset[str] = frozenset()

    @property
    def is_deny(self) -> bool:
        return self.effect == "deny"

    def covers_action(self, action: str) -> bool:
        return fnmatch.fnmatchcase(action, self.action)

    def is_unrestricted(self) -> bool:
        return not self.environments and self.path in ("/**", "**") and not self.tags

    def describe(self) -> str:
        where = ", ".join(sorted(self.environments)) if self.environments else "every environment"
        tags = f" for tags {', '.join(sorted(self.tags))}" if self.tags else ""
        return f"{self.effect} {self.action} in {where} at {self.path}{tags}"


def _allow(*actions: str) -> tuple[Rule, ...]:
    return tuple(Rule(effect="allow", action=action) for action in actions)


BUILTIN_RULES: dict[str, tuple[Rule, ...]] = {
    "admin": _allow("*"),
    "member": _allow(
        "secrets.*",
        "folders.*",
        "imports.*",
        "tags.manage",
        "members.read",
        "roles.read",
        "audit.read",
        "syncs.read",
        "governance.read",
    ),
    "viewer": _allow("secrets.read", "folders.read", "imports.read", "members.read", "roles.read"),
    "no-access": (),
}
