"""The permission model: rules of (effect, action, environments, path glob, tags). Deny beats allow.

Actions are dotted ``subject.verb`` names. ``secrets.read`` lists names and metadata;
``secrets.read_value`` returns values: the two are separate so a viewer never receives a value.
This module is pure (no queries): selectors build a ``ProjectAccess`` once per request and ask it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field

from secrets_app.paths import path_matches

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
}

# Actions that are about a place in the secret tree; all others are project-wide.
SCOPED_SUBJECTS = ("secrets.", "folders.", "imports.")


@dataclass(frozen=True)
class Rule:
    effect: str  # "allow" | "deny"
    action: str  # exact action, "subject.*" or "*"
    environments: frozenset[str] = frozenset()  # empty: every environment
    path: str = "/**"
    tags: frozenset[str] = frozenset()  # empty: whatever the tags

    def covers_action(self, action: str) -> bool:
        return fnmatch.fnmatchcase(action, self.action)

    def is_unrestricted(self) -> bool:
        return not self.environments and self.path in ("/**", "**") and not self.tags


def _allow(*actions: str) -> tuple[Rule, ...]:
    return tuple(Rule(effect="allow", action=action) for action in actions)


BUILTIN_RULES: dict[str, tuple[Rule, ...]] = {
    "admin": _allow("*"),
    "member": _allow(
        "secrets.*", "folders.*", "imports.*", "tags.manage", "members.read", "roles.read", "audit.read", "syncs.read"
    ),
    "viewer": _allow("secrets.read", "folders.read", "imports.read", "members.read", "roles.read"),
    "no-access": (),
}


@dataclass(frozen=True)
class ProjectAccess:
    """What one principal may do in one project. Built by ``selectors.access.project_access``."""

    project_id: int
    role: str
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def can(
        self,
        action: str,
        *,
        environment: str | None = None,
        path: str | None = None,
        tags: Iterable[str] | None = None,
    ) -> bool:
        """True when some allow rule and no deny rule covers the action at this place.

        For project-wide checks (no environment) only unrestricted rules count. Tag-restricted
        rules apply only when the secret's *tags* are given and intersect theirs.
        """
        tag_set = frozenset(tags) if tags is not None else None
        allowed = False
        for rule in self.rules:
            if not rule.covers_action(action) or not self._rule_applies(rule, environment, path, tag_set):
                continue
            if rule.effect == "deny":
                return False
            allowed = True
        return allowed

    @staticmethod
    def _rule_applies(rule: Rule, environment: str | None, path: str | None, tags: frozenset[str] | None) -> bool:
        if environment is None:
            return rule.is_unrestricted()
        if rule.environments and environment not in rule.environments:
            return False
        if path is not None and not path_matches(rule.path, path):
            return False
        if rule.tags:
            return tags is not None and bool(rule.tags & tags)
        return True

    def can_for_some_tags(self, action: str, *, environment: str, path: str) -> bool:
        """True when the action may be allowed for *some* secret at this place: an allow rule reaches
        it (tag-limited ones too) and no deny rule without tags covers it. For gates in front of
        per-secret checks (listing a folder to a role limited to tagged secrets); the caller must
        still check each secret with its own tags."""
        allowed = False
        for rule in self.rules:
            if not rule.covers_action(action):
                continue
            if rule.environments and environment not in rule.environments:
                continue
            if not path_matches(rule.path, path):
                continue
            if rule.effect == "deny":
                if not rule.tags:
                    return False
                continue
            allowed = True
        return allowed

    def sees_environment(self, environment: str) -> bool:
        """True when some allow rule reaches the environment. An environment nobody granted the
        caller anything in is hidden: it answers 404 like one that does not exist."""
        return any(
            rule.effect == "allow" and (not rule.environments or environment in rule.environments)
            for rule in self.rules
        )

    def can_anywhere_in(self, action: str, environment: str) -> bool:
        """True when an allow rule for the action reaches some path of the environment (for listing
        environments and folders the caller may enter). Deny rules on sub-paths do not hide the env."""
        for rule in self.rules:
            if rule.effect != "allow" or not rule.covers_action(action):
                continue
            if rule.environments and environment not in rule.environments:
                continue
            return True
        return False

    def visible_path_prefix(self, action: str, environment: str, path: str) -> bool:
        """True when the folder at *path* is on the way to some path the caller may act on."""
        for rule in self.rules:
            if rule.effect != "allow" or not rule.covers_action(action):
                continue
            if rule.environments and environment not in rule.environments:
                continue
            if path_matches(rule.path, path) or _is_ancestor_of_glob(path, rule.path):
                return True
        return False


def _is_ancestor_of_glob(path: str, glob: str) -> bool:
    from secrets_app.paths import path_segments

    path_parts = path_segments(path)
    glob_parts = path_segments(glob)
    for index, part in enumerate(path_parts):
        if index >= len(glob_parts):
            return False
        if glob_parts[index] == "**":
            return True
        if not fnmatch.fnmatchcase(part, glob_parts[index]):
            return False
    return True
