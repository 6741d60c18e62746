"""The policy decision point: what one principal may do in one project. Pure (no queries).

One meaning of allow and deny, used by every surface (UI, REST API, Infisical compat, syncs, and
what comes: approvals, leases, rotation):

- A **request** is an action at a place. A scoped action (``secrets.*``, ``folders.*``,
  ``imports.*``) is asked at an environment and a canonical folder path, and ``secrets.*`` also
  with the secret's tags. Any other action is asked of the whole project.
- A rule **applies** to a request when it covers the action and its conditions hold: the
  environment is one of its environments (none listed: every environment), its segment glob
  matches the path, and (when it lists tags) the secret carries one of them. Asked of the whole
  project (no environment), only rules without conditions apply.
- The request is **allowed** when some allow rule applies and no deny rule does. Deny beats allow
  whatever the order; nothing applies means denied.

Every other question is that decision asked at concrete points. "May the caller do X somewhere in
this environment / below this folder / for some tags here?" evaluates ``can`` at witness requests
built from the caller's allow rules (``policy.globs.path_witnesses``), so deny rules count there
exactly as they do for a single secret. Role containment (who may grant what) is in
``policy.containment``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from secrets_app.paths import path_matches
from secrets_app.policy.globs import path_witnesses
from secrets_app.policy.rules import ACTIONS, Rule, is_scoped

# Decisions remembered per ProjectAccess (which the access cache keeps for an epoch): bounded, so a
# caller reading many distinct paths cannot grow it without end.
_MEMO_LIMIT = 4096


@dataclass(frozen=True)
class ProjectAccess:
    """What one principal may do in one project. Built by ``selectors.access.project_access``."""

    project_id: int
    role: str
    rules: tuple[Rule, ...] = field(default_factory=tuple)
    _memo: dict[tuple[object, ...], bool] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def is_admin(self) -> bool:
        """Holds the built-in admin role: the one role only an admin may hand out, change or take away,
        and the one that may revoke any temporary grant in the project."""
        return self.role == "admin"

    # --- the decision -------------------------------------------------------------------------
    def can(
        self,
        action: str,
        *,
        environment: str | None = None,
        path: str | None = None,
        tags: Iterable[str] | None = None,
    ) -> bool:
        """True when some allow rule and no deny rule applies to *action* at this place (see the
        module docstring). A project-wide action ignores any place it is given."""
        if not is_scoped(action):
            environment = path = tags = None
        tag_set = frozenset(tags) if tags is not None else None
        # Decided once per place: a list of 50 secrets asks the same question 100 times.
        key: tuple[object, ...] = ("can", action, environment, path, tag_set)
        known = self._memo.get(key)
        if known is not None:
            return known
        allowed = False
        for rule in self.rules:
            if not rule.covers_action(action) or not _applies(rule, environment, path, tag_set):
                continue
            if rule.is_deny:
                allowed = False
                break
            allowed = True
        if len(self._memo) < _MEMO_LIMIT:
            self._memo[key] = allowed
        return allowed

    # --- the same decision asked over a region ------------------------------------------------
    def can_for_some_tags(self, action: str, *, environment: str, path: str) -> bool:
        """True when *action* is allowed at this exact place for a secret with *some* tags (none
        included). A gate in front of per-secret checks; each secret is still checked with its tags."""
        return self._somewhere(action, environment, path, exact=True)

    def can_anywhere_in(self, action: str, environment: str) -> bool:
        """True when *action* is allowed at some folder of the environment."""
        return self._somewhere(action, environment, "/", exact=False)

    def visible_path_prefix(self, action: str, environment: str, path: str) -> bool:
        """True when *action* is allowed at *path* or somewhere below it: the folder is on the way
        to something the caller may act on."""
        return self._somewhere(action, environment, path, exact=False)

    def sees_environment(self, environment: str) -> bool:
        """True when the caller may do anything in the environment: a scoped action somewhere in
        it, or a project-wide action (project members see the project's environments). An
        environment nobody granted the caller anything in answers 404 like a missing one."""
        key: tuple[object, ...] = ("env", environment)
        if key not in self._memo:
            self._memo[key] = any(
                self.can_anywhere_in(action, environment) if is_scoped(action) else self.can(action)
                for action in ACTIONS
            )
        return self._memo[key]

    def _somewhere(self, action: str, environment: str, path: str, *, exact: bool) -> bool:
        if not is_scoped(action):
            return self.can(action)
        key: tuple[object, ...] = (action, environment, path, exact)
        if key in self._memo:
            return self._memo[key]
        result = False
        for rule in self.rules:
            if rule.is_deny or not rule.covers_action(action):
                continue
            if rule.environments and environment not in rule.environments:
                continue
            if exact:
                places = [path] if path_matches(rule.path, path) else []
            else:
                places = path_witnesses(rule.path, path)
            tag_choices: list[frozenset[str]] = [frozenset()] + [frozenset({tag}) for tag in sorted(rule.tags)]
            if any(
                self.can(action, environment=environment, path=place, tags=tags)
                for place in places
                for tags in tag_choices
            ):
                result = True
                break
        self._memo[key] = result
        return result


def _applies(rule: Rule, environment: str | None, path: str | None, tags: frozenset[str] | None) -> bool:
    if environment is None:
        return rule.is_unrestricted()
    if rule.environments and environment not in rule.environments:
        return False
    if path is not None and not path_matches(rule.path, path):
        return False
    if rule.tags:
        return tags is not None and bool(rule.tags & tags)
    return True
