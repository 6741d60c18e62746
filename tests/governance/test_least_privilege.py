# ruff: noqa: F811  (the lp_history fixture is imported, then named by the tests)
"""Least-privilege proposals: granted vs delivered per identity, the narrower rule set, and
applying it in one click (never wider; real reads still work where they worked, refused elsewhere)."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from governance.selectors.least_privilege import (
    DeliveredFolder,
    ProposalKind,
    WrittenFolder,
    identity_access,
    least_privilege_proposals,
    propose,
)
from governance.services.least_privilege import APPLIED, least_privilege_apply
from secrets_app.errors import Conflict, PermissionDenied
from secrets_app.models import IdentityProjectMembership, Role
from secrets_app.policy import BUILTIN_RULES, Rule
from tests.governance.lp_fixtures import VALUES, lp_history, read_prod_api  # noqa: F401

READER_PROPOSAL = [
    "allow secrets.read in prod at /backend/api/**",
    "allow secrets.read_value in prod at /backend/api/**",
]


def _by_name(accesses):
    return {access.identity.name: access for access in accesses}


@pytest.mark.django_db
def test_it_proposes_prod_backend_api_read_only_and_removal_for_an_idle_identity(lp_history):
    accesses = _by_name(least_privilege_proposals(lp_history.cast.scope(lp_history.cast.alice)))
    reader, idle = accesses["api-reader"], accesses["idle-bot"]

    assert reader.role == "member"
    assert "allow secrets.* in every environment at /**" in reader.granted_descriptions
    assert [(f.environment, f.path, f.keys) for f in reader.delivered] == [
        ("prod", "/backend/api", ["API_KEY", "DB_URL"])
    ]
    assert reader.written == []
    assert reader.proposal.kind == ProposalKind.NARROW
    assert reader.proposal.descriptions == READER_PROPOSAL
    assert "Read-only: it wrote nothing here." in reader.proposal.reasons

    assert idle.delivered == [] and idle.proposal.kind == ProposalKind.REMOVE
    assert idle.proposal.rules == ()


@pytest.mark.django_db
def test_it_applies_the_proposal_and_real_reads_work_only_where_they_did(lp_history):
    scope = lp_history.cast.scope(lp_history.cast.alice)
    reader = lp_history.reader.identity
    seen = identity_access(scope, reader.public_id)

    after = least_privilege_apply(scope=scope, identity=reader.public_id, fingerprint=seen.proposal.fingerprint)

    membership = IdentityProjectMembership.objects.get(project=lp_history.cast.project, identity=reader)
    assert membership.custom_role is not None and membership.custom_role.slug == "lp-api-reader"
    assert after.granted_descriptions == READER_PROPOSAL
    assert after.proposal.kind == ProposalKind.KEEP  # re-reading proposes nothing further
    event = AuditEvent.objects.get(action=APPLIED)
    assert event.resource_id == str(reader.public_id)
    assert event.metadata["before"] == [rule.describe() for rule in BUILTIN_RULES["member"]]
    assert event.metadata["after"] == READER_PROPOSAL
    assert (event.metadata["previous_role"], event.metadata["role"]) == ("member", "lp-api-reader")
    for value in VALUES:
        assert value not in str(event.metadata)

    client = lp_history.as_identity(lp_history.reader_token)
    still = read_prod_api(lp_history)
    assert still.status_code == 200
    assert {item["key"]: item["value"] for item in still.json()["secrets"]}["API_KEY"] == VALUES[0]
    root = client.get("/api/v1/projects/acme/secrets/", {"environment": "prod", "path": "/", "include_values": "true"})
    assert root.status_code == 403
    staging = client.get(
        "/api/v1/projects/acme/secrets/", {"environment": "staging", "path": "/backend/api", "include_values": "true"}
    )
    assert staging.status_code == 404
    write = client.post(
        "/api/v1/projects/acme/secrets/",
        {"environment": "prod", "path": "/backend/api", "key": "NEW", "value": "x"},
        format="json",
    )
    assert write.status_code == 403


@pytest.mark.django_db
def test_it_removes_an_idle_identity_from_the_project(lp_history):
    scope = lp_history.cast.scope(lp_history.cast.alice)
    idle = lp_history.idle.identity
    after = least_privilege_apply(scope=scope, identity=idle.public_id)

    assert after.role == "no-access" and after.proposal.kind == ProposalKind.KEEP
    response = lp_history.as_identity(lp_history.idle_token).get(
        "/api/v1/projects/acme/secrets/", {"environment": "prod", "path": "/"}
    )
    assert response.status_code == 404
    with pytest.raises(Conflict):
        least_privilege_apply(scope=scope, identity=idle.public_id)


@pytest.mark.django_db
def test_it_refuses_bob_and_a_stale_proposal(lp_history):
    reader = lp_history.reader.identity
    with pytest.raises(PermissionDenied):
        least_privilege_apply(scope=lp_history.cast.scope(lp_history.cast.bob), identity=reader.public_id)
    with pytest.raises(Conflict):
        least_privilege_apply(
            scope=lp_history.cast.scope(lp_history.cast.alice), identity=reader.public_id, fingerprint="0" * 16
        )
    assert IdentityProjectMembership.objects.get(identity=reader).builtin_role == "member"
    assert not Role.objects.filter(slug__startswith="lp-").exists()
    assert AuditEvent.objects.filter(action="permission.denied", actor_label="bob@example.com").exists()


# --- the proposal itself (pure) ------------------------------------------------------------------


def _delivered(environment, path, *keys):
    import datetime

    return DeliveredFolder(environment, path, list(keys), 1, datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))


def test_it_keeps_tag_limits_and_deny_rules_of_the_current_role():
    granted = (
        Rule("allow", "secrets.*", frozenset({"prod"}), "/**", frozenset({"pci"})),
        Rule("deny", "secrets.read_value", frozenset({"prod"}), "/backend/api/admin/**"),
    )
    proposal = propose(granted, [_delivered("prod", "/backend/api", "K")], [], [])
    assert proposal.kind == ProposalKind.NARROW
    assert proposal.descriptions == [
        "allow secrets.read in prod at /backend/api/** for tags pci",
        "allow secrets.read_value in prod at /backend/api/** for tags pci",
        "deny secrets.read_value in prod at /backend/api/admin/**",
    ]


def test_it_covers_subfolders_by_their_ancestor_and_keeps_observed_writes_only():
    import datetime

    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    proposal = propose(
        BUILTIN_RULES["member"],
        [_delivered("dev", "/app", "A"), _delivered("dev", "/app/db", "B"), _delivered("staging", "/", "C")],
        [WrittenFolder("dev", "/app/db", ["secret.updated"], 2, at)],
        [("dev", "/"), ("dev", "/app")],
    )
    assert proposal.descriptions == [
        "allow secrets.read in dev at /app/**",
        "allow secrets.read_value in dev at /app/**",
        "allow secrets.read in staging at /**",
        "allow secrets.read_value in staging at /**",
        "allow secrets.read in dev at /",  # names only, where its recursive read started
        "allow secrets.edit in dev at /app/db/**",
    ]


def test_it_keeps_names_where_an_import_was_read_from_and_proposes_removal_to_a_names_only_reader():
    imported = propose(BUILTIN_RULES["member"], [_delivered("prod", "/shared", "K")], [], [("prod", "/app")])
    assert imported.descriptions == [
        "allow secrets.read in prod at /shared/**",
        "allow secrets.read_value in prod at /shared/**",
        "allow secrets.read in prod at /app",
    ]
    names_only = propose(BUILTIN_RULES["viewer"], [], [], [("dev", "/")])
    assert names_only.kind == ProposalKind.REMOVE
    assert names_only.reasons[-1] == "It only listed names (/ in dev)."


ROLES = [
    BUILTIN_RULES["admin"],
    BUILTIN_RULES["member"],
    BUILTIN_RULES["viewer"],
    (Rule("allow", "secrets.*", frozenset({"dev"})), Rule("allow", "folders.*", frozenset({"dev"}))),
    (
        Rule("allow", "secrets.read_value", frozenset({"prod", "staging"}), "/app/**", frozenset({"pci"})),
        Rule("allow", "secrets.read", frozenset(), "/**"),
        Rule("deny", "secrets.*", frozenset({"prod"}), "/app/admin/**"),
    ),
]
PLACES = [(env, path) for env in ("dev", "staging", "prod") for path in ("/", "/app", "/app/admin", "/app/db", "/x")]


@pytest.mark.parametrize("role", range(len(ROLES)))
def test_it_never_proposes_more_than_the_role_grants(role):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from secrets_app.policy import grants_beyond

    places = st.lists(st.sampled_from(PLACES), max_size=6)

    @settings(max_examples=30, deadline=None)
    @given(delivered=places, written=places, requested=places)
    def check(delivered, written, requested):
        import datetime

        at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        proposal = propose(
            ROLES[role],
            [_delivered(env, path, "K") for env, path in delivered],
            [WrittenFolder(env, path, ["secret.updated"], 1, at) for env, path in written],
            requested,
        )
        assert grants_beyond(proposal.rules, ROLES[role]) == []
        if proposal.kind == ProposalKind.NARROW:
            # Applied, the role holds exactly the proposal: proposing again narrows nothing further.
            again = propose(
                proposal.rules,
                [_delivered(env, path, "K") for env, path in delivered],
                [WrittenFolder(env, path, ["secret.updated"], 1, at) for env, path in written],
                requested,
            )
            assert again.kind == ProposalKind.KEEP and set(again.rules) == set(proposal.rules)

    check()
