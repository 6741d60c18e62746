"""The policy decision point: one meaning of allow and deny, region questions answered at witness
points, and role containment (who may grant what) proved sound against brute force."""

from __future__ import annotations

from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secrets_app.policy import ACTIONS, BUILTIN_RULES, ProjectAccess, Rule, grants_beyond, is_scoped
from secrets_app.policy.globs import glob_subsumes, globs_may_meet, path_witnesses


def allow(action: str, envs: tuple[str, ...] = (), path: str = "/**", tags: tuple[str, ...] = ()) -> Rule:
    return Rule("allow", action, frozenset(envs), path, frozenset(tags))


def deny(action: str, envs: tuple[str, ...] = (), path: str = "/**", tags: tuple[str, ...] = ()) -> Rule:
    return Rule("deny", action, frozenset(envs), path, frozenset(tags))


def access(*rules: Rule) -> ProjectAccess:
    return ProjectAccess(project_id=1, role="custom", rules=tuple(rules))


# --- the decision ---------------------------------------------------------------------------------

DECISIONS = [
    # rules, action, environment, path, tags, allowed
    ((allow("*"),), "secrets.read_value", "prod", "/app", [], True),
    ((allow("secrets.*", ("dev",)),), "secrets.read_value", "prod", "/app", [], False),
    ((allow("secrets.*", path="/app/**"),), "secrets.read", "dev", "/app-other", [], False),
    ((allow("secrets.*", path="/app/**"),), "secrets.read", "dev", "/app/db", [], True),
    (
        (allow("secrets.*"), deny("secrets.read_value", path="/app/db")),
        "secrets.read_value",
        "dev",
        "/app/db",
        [],
        False,
    ),
    (
        (deny("secrets.read_value", path="/app/db"), allow("secrets.*")),
        "secrets.read_value",
        "dev",
        "/app/db",
        [],
        False,
    ),
    ((allow("secrets.*"), deny("secrets.delete", tags=("keep",))), "secrets.delete", "dev", "/", ["keep"], False),
    ((allow("secrets.*"), deny("secrets.delete", tags=("keep",))), "secrets.delete", "dev", "/", ["other"], True),
    ((allow("secrets.read", tags=("ci",)),), "secrets.read", "dev", "/", ["ci"], True),
    ((allow("secrets.read", tags=("ci",)),), "secrets.read", "dev", "/", [], False),
    # Project-wide: only unrestricted rules count, and a place given to a project action is ignored.
    ((allow("members.read"),), "members.read", None, None, None, True),
    ((allow("members.read"),), "members.read", "prod", "/x", None, True),
    ((allow("*", ("dev",)),), "members.manage", None, None, None, False),
    ((allow("*"), deny("audit.read")), "audit.read", None, None, None, False),
    ((), "secrets.read", "dev", "/", [], False),
]


@pytest.mark.parametrize(("rules", "action", "environment", "path", "tags", "expected"), DECISIONS)
def test_it_decides_each_request_with_deny_beating_allow(rules, action, environment, path, tags, expected) -> None:
    assert access(*rules).can(action, environment=environment, path=path, tags=tags) is expected


REGIONS = [
    # A deny anywhere counts in region questions exactly as for one secret.
    (
        (allow("secrets.read_value"), deny("secrets.read_value", ("prod",))),
        "can_anywhere_in",
        ("secrets.read_value", "prod"),
        False,
    ),
    (
        (allow("secrets.read_value"), deny("secrets.read_value", path="/")),
        "can_anywhere_in",
        ("secrets.read_value", "dev"),
        True,
    ),
    ((allow("secrets.read", path="/app/**"),), "visible_path_prefix", ("secrets.read", "dev", "/"), True),
    ((allow("secrets.read", path="/app/**"),), "visible_path_prefix", ("secrets.read", "dev", "/other"), False),
    (
        (allow("secrets.read", path="/app/**"), deny("secrets.read", path="/app/**")),
        "visible_path_prefix",
        ("secrets.read", "dev", "/"),
        False,
    ),
    (
        (allow("secrets.read", path="/app/**"), deny("secrets.read", path="/app")),
        "visible_path_prefix",
        ("secrets.read", "dev", "/"),
        True,
    ),
    ((allow("secrets.read", tags=("ci",)),), "can_for_some_tags", ("secrets.read", "dev", "/"), True),
    (
        (allow("secrets.read", tags=("ci",)), deny("secrets.read", tags=("ci",))),
        "can_for_some_tags",
        ("secrets.read", "dev", "/"),
        False,
    ),
    (
        (allow("secrets.read"), deny("secrets.read", tags=("ci",))),
        "can_for_some_tags",
        ("secrets.read", "dev", "/"),
        True,
    ),
    ((allow("secrets.*", ("dev",)),), "sees_environment", ("prod",), False),
    ((allow("secrets.*", ("dev",)),), "sees_environment", ("dev",), True),
    ((allow("members.read"),), "sees_environment", ("prod",), True),
    ((allow("secrets.*", ("dev",)), deny("secrets.*", ("dev",))), "sees_environment", ("dev",), False),
]


@pytest.mark.parametrize(("rules", "question", "arguments", "expected"), REGIONS)
def test_it_answers_region_questions_with_the_same_deny_semantics(rules, question, arguments, expected) -> None:
    policy = access(*rules)
    if question == "can_for_some_tags":
        action, environment, path = arguments
        assert policy.can_for_some_tags(action, environment=environment, path=path) is expected
    else:
        assert getattr(policy, question)(*arguments) is expected


def test_it_finds_witness_paths_inside_the_asked_subtree() -> None:
    assert "/app" in path_witnesses("/app/**", "/")
    assert path_witnesses("/app/**", "/other") == []
    assert all(path.startswith("/app/db") for path in path_witnesses("/**", "/app/db"))
    assert path_witnesses("/app/*/x", "/app") == ["/app/zz9w/x", "/app/qx0k/x"]


GLOBS = [
    # big, small, big ⊇ small, may meet
    ("/**", "/app/**", True, True),
    ("/app/**", "/**", False, True),
    ("/app/**", "/app", True, True),
    ("/app", "/app/**", False, True),
    ("/app/*", "/app/db", True, True),
    ("/app/db", "/app/*", False, True),
    ("/app/**", "/app-other/**", False, False),
    ("/a/*/c", "/a/**/c", False, True),
    ("/a/**/c", "/a/*/c", True, True),
    ("/x", "/y", False, False),
]


@pytest.mark.parametrize(("big", "small", "subsumes", "meets"), GLOBS)
def test_it_compares_globs_soundly(big, small, subsumes, meets) -> None:
    assert glob_subsumes(big, small) is subsumes
    assert globs_may_meet(big, small) is meets


# --- containment: who may grant what -------------------------------------------------------------

CONTAINMENT = [
    # candidate, holder, candidate grants something beyond holder
    (BUILTIN_RULES["admin"], BUILTIN_RULES["admin"], False),
    (BUILTIN_RULES["member"], BUILTIN_RULES["admin"], False),
    (BUILTIN_RULES["viewer"], BUILTIN_RULES["member"], False),
    (BUILTIN_RULES["admin"], (allow("members.manage"),), True),
    (BUILTIN_RULES["member"], (allow("members.manage"),), True),
    ((allow("*"),), (allow("roles.manage"), allow("roles.read")), True),
    ((allow("roles.read"),), (allow("roles.manage"), allow("roles.read")), False),
    # Environment, path and tag conditions narrow a grant.
    ((allow("secrets.read", ("dev",)),), (allow("secrets.*"),), False),
    ((allow("secrets.read"),), (allow("secrets.*", ("dev",)),), True),
    (
        (allow("secrets.read", ("dev", "prod")),),
        (allow("secrets.read", ("dev",)), allow("secrets.read", ("prod",))),
        False,
    ),
    ((allow("secrets.read", path="/app/**"),), (allow("secrets.read", path="/**"),), False),
    ((allow("secrets.read", path="/**"),), (allow("secrets.read", path="/app/**"),), True),
    ((allow("secrets.read", tags=("ci",)),), (allow("secrets.read"),), False),
    ((allow("secrets.read"),), (allow("secrets.read", tags=("ci",)),), True),
    # The holder's deny rules: the candidate must deny the same inside what it allows.
    ((allow("secrets.*"),), (allow("secrets.*"), deny("secrets.read_value", ("prod",))), True),
    (
        (allow("secrets.*"), deny("secrets.read_value", ("prod",))),
        (allow("secrets.*"), deny("secrets.read_value", ("prod",))),
        False,
    ),
    ((allow("secrets.*", ("dev",)),), (allow("secrets.*"), deny("secrets.read_value", ("prod",))), False),
    ((allow("secrets.*", path="/app/**"),), (allow("secrets.*"), deny("secrets.*", path="/ops/**")), False),
    ((allow("secrets.*", path="/app/**"),), (allow("secrets.*"), deny("secrets.*", path="/**")), True),
    (
        (allow("secrets.*", path="/app/**"), deny("secrets.*", path="/app/**")),
        (allow("secrets.*"), deny("secrets.*", path="/**")),
        False,
    ),
    # A secret tagged both x and y: the candidate reaches it, the holder's deny on y does not let it.
    ((allow("secrets.read", tags=("x",)),), (allow("secrets.read"), deny("secrets.read", tags=("y",))), True),
    (
        (allow("secrets.read", tags=("x",)), deny("secrets.read", tags=("y",))),
        (allow("secrets.read"), deny("secrets.read", tags=("y",))),
        False,
    ),
    ((), (), False),
    ((deny("*"),), (), False),
]


@pytest.mark.parametrize(("candidate", "holder", "beyond"), CONTAINMENT)
def test_it_says_whether_one_rule_set_grants_beyond_another(candidate, holder, beyond) -> None:
    reasons = grants_beyond(candidate, holder)
    assert bool(reasons) is beyond, reasons


def test_it_names_what_a_refused_grant_would_add() -> None:
    reasons = grants_beyond((allow("secrets.read_value", ("prod",)),), (allow("secrets.read", ("prod",)),))
    assert reasons == ["it would allow secrets.read_value in prod at /** which you do not hold"] or any(
        "secrets.read_value" in reason and "prod" in reason for reason in reasons
    )


# --- soundness against brute force ----------------------------------------------------------------

ENVS = ("dev", "prod", "stg")
TAGS = ("x", "y")
SEGMENTS = ("app", "db", "zz9w")
PATHS = ["/"] + ["/" + "/".join(parts) for depth in (1, 2, 3) for parts in product(SEGMENTS, repeat=depth)]
TAG_SETS = [None, frozenset(), frozenset({"x"}), frozenset({"y"}), frozenset({"x", "y"})]
GLOB_CHOICES = ("/**", "/app/**", "/app", "/app/*", "/*/db", "/app/db/**", "/db/**")
ACTION_CHOICES = ("*", "secrets.*", "secrets.read", "secrets.read_value", "members.manage", "folders.read")


def requests() -> list[tuple[str, str | None, str | None, frozenset[str] | None]]:
    points: list[tuple[str, str | None, str | None, frozenset[str] | None]] = []
    for action in ("secrets.read", "secrets.read_value", "folders.read", "members.manage", "audit.read"):
        points.append((action, None, None, None))
        if is_scoped(action):
            points.extend((action, env, path, tags) for env in ENVS for path in PATHS for tags in TAG_SETS)
    return points


REQUESTS = requests()

rule_strategy = st.builds(
    Rule,
    effect=st.sampled_from(("allow", "allow", "deny")),
    action=st.sampled_from(ACTION_CHOICES),
    environments=st.frozensets(st.sampled_from(ENVS[:2]), max_size=2),
    path=st.sampled_from(GLOB_CHOICES),
    tags=st.frozensets(st.sampled_from(TAGS), max_size=2),
)
rule_sets = st.lists(rule_strategy, max_size=4).map(tuple)


NARROWER_GLOBS = {"/**": ("/app/**", "/app", "/db/**"), "/app/**": ("/app", "/app/db/**", "/app/*")}


@st.composite
def narrowed(draw: st.DrawFn, holder: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """A candidate built from the holder's allow rules, some narrowed, plus random denies: most
    such candidates are contained, so the deny-hole half of the proof is exercised."""
    rules: list[Rule] = []
    for rule in holder:
        if rule.is_deny or not draw(st.booleans()):
            continue
        environments = rule.environments or draw(st.frozensets(st.sampled_from(ENVS[:2]), max_size=1))
        path = draw(st.sampled_from((rule.path, *NARROWER_GLOBS.get(rule.path, ()))))
        rules.append(Rule("allow", rule.action, environments, path, rule.tags))
    rules.extend(draw(st.lists(rule_strategy.filter(lambda rule: rule.is_deny), max_size=2)))
    return tuple(rules)


@st.composite
def holder_and_candidate(draw: st.DrawFn) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    holder = draw(rule_sets)
    candidate = draw(st.one_of(rule_sets, narrowed(holder)))
    return holder, candidate


@settings(max_examples=400, deadline=None)
@given(pair=holder_and_candidate())
def test_it_never_approves_a_grant_that_reaches_beyond_the_holder(pair) -> None:
    holder, candidate = pair
    if grants_beyond(candidate, holder):
        return
    granted, held = access(*candidate), access(*holder)
    for action, env, path, tags in REQUESTS:
        if granted.can(action, environment=env, path=path, tags=tags):
            assert held.can(action, environment=env, path=path, tags=tags), (action, env, path, tags)


@settings(max_examples=200, deadline=None)
@given(rules=rule_sets)
def test_region_answers_agree_with_the_decision_at_concrete_points(rules) -> None:
    policy = access(*rules)
    for action in ("secrets.read", "folders.read"):
        for env in ENVS:
            somewhere = any(
                policy.can(action, environment=env, path=path, tags=tags) for path in PATHS for tags in TAG_SETS
            )
            # A witness is a concrete allowed request: a "yes" is always true. (A "no" may only miss
            # folders named like nothing in the rules, which this universe includes as zz9w.)
            assert policy.can_anywhere_in(action, env) == somewhere, (action, env)


def test_every_action_has_a_description() -> None:
    assert all(ACTIONS.values())
