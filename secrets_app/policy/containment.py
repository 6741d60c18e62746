"""Role containment: does one rule set grant anything another does not?

Nobody may grant, assign or edit a role to rights they do not hold themselves. ``grants_beyond``
answers that for two rule sets under the decision semantics of ``policy.decision``: it returns what
*candidate* would allow that *holder* does not (empty when every request candidate allows, holder
allows too).

The check is a proof, not a search, and it is sound: when it returns nothing, no request exists
that candidate allows and holder refuses (``tests/secrets_app/test_policy.py`` checks that against
brute force). It may refuse a grant that is in fact contained (a path covered only by a union of
the holder's globs), never the other way round. Per concrete action, for every allow rule of the
candidate:

1. some allow rule of the holder covers it, environment by environment and tag by tag (globs by
   ``glob_subsumes``; "every environment" and "any tags" are covered only by the same);
2. every deny rule of the holder that may meet it is matched, inside it, by a deny rule of the
   candidate (otherwise the candidate would allow what the holder's deny refuses).
"""

from __future__ import annotations

from collections.abc import Iterable

from secrets_app.policy.globs import glob_subsumes, globs_may_meet
from secrets_app.policy.rules import Rule, actions_matching

MAX_REASONS = 3


def _env_subsumes(big: frozenset[str], small: frozenset[str]) -> bool:
    """Empty means every environment (including ones created later)."""
    return not big or (bool(small) and small <= big)


def _env_meet(first: frozenset[str], second: frozenset[str]) -> frozenset[str] | None:
    """The environments both reach (empty = all), or None when they share none."""
    if not first:
        return second
    if not second:
        return first
    common = first & second
    return common or None


def _tags_subsume(big: frozenset[str], small: frozenset[str]) -> bool:
    """Empty means any tags (and none)."""
    return not big or (bool(small) and small <= big)


def _covers(big: Rule, action: str, environments: frozenset[str], path: str, tags: frozenset[str]) -> bool:
    return (
        big.covers_action(action)
        and _env_subsumes(big.environments, environments)
        and glob_subsumes(big.path, path)
        and _tags_subsume(big.tags, tags)
    )


def _denied_inside(deny: Rule, allow: Rule, action: str, candidate_denies: list[Rule]) -> bool:
    """Whether some candidate deny covers the region where *deny* meets *allow*."""
    environments = _env_meet(deny.environments, allow.environments)
    assert environments is not None
    for rule in candidate_denies:
        if not rule.covers_action(action) or not _env_subsumes(rule.environments, environments):
            continue
        if not (glob_subsumes(rule.path, deny.path) or glob_subsumes(rule.path, allow.path)):
            continue
        if _tags_subsume(rule.tags, deny.tags) or _tags_subsume(rule.tags, allow.tags):
            return True
    return False


def grants_beyond(candidate: Iterable[Rule], holder: Iterable[Rule]) -> list[str]:
    """What *candidate* allows that *holder* does not, as short sentences (at most three).

    Empty when *holder* allows every request *candidate* allows: then a holder of *holder* may
    grant *candidate*."""
    candidate_rules, holder_rules = list(candidate), list(holder)
    holder_allows = [rule for rule in holder_rules if not rule.is_deny]
    holder_denies = [rule for rule in holder_rules if rule.is_deny]
    candidate_denies = [rule for rule in candidate_rules if rule.is_deny]
    reasons: list[str] = []

    def note(text: str) -> None:
        if text not in reasons:
            reasons.append(text)

    for allow in (rule for rule in candidate_rules if not rule.is_deny):
        for action in actions_matching(allow.action):
            env_parts = [frozenset({env}) for env in sorted(allow.environments)] or [frozenset()]
            tag_parts = [frozenset({tag}) for tag in sorted(allow.tags)] or [frozenset()]
            for environments in env_parts:
                for tags in tag_parts:
                    if not any(_covers(rule, action, environments, allow.path, tags) for rule in holder_allows):
                        piece = Rule("allow", action, environments, allow.path, tags)
                        note(f"it would {piece.describe()}, which you do not hold")
            for deny in holder_denies:
                if not deny.covers_action(action) or _env_meet(deny.environments, allow.environments) is None:
                    continue
                if not globs_may_meet(deny.path, allow.path):
                    continue
                if not _denied_inside(deny, allow, action, candidate_denies):
                    note(f"it would allow {action} where your role has '{deny.describe()}'")
            if len(reasons) >= MAX_REASONS:
                return reasons[:MAX_REASONS]
    return reasons
