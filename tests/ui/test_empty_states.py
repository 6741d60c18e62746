"""Every list page, with nothing in it yet, says so and what to do next (#17): an empty state, and
the action's button or link when the person may take it (an organization admin here)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

# page -> (its address, the words of its empty state, the action it offers: a form field or a link)
EMPTY_LISTS = {
    "syncs": ("/projects/acme/syncs/", "No syncs yet", "/org/acme-org/connections/"),
    "rotations": ("/projects/acme/rotations/", "No rotations yet", "/projects/acme/rotations/new/"),
    "leases": ("/projects/acme/leases/", "No live leases", "A lease is issued from a dynamic secret"),
    "approval policies": ("/projects/acme/approvals/", "No approval policies", 'name="name"'),
    "change requests": ("/projects/acme/approvals/changes/", "No open change requests", "/projects/acme/approvals/"),
    "access inbox": ("/approvals/inbox/", "Nothing to review", None),
    "my access": ("/access/mine/", "No temporary access", None),
    "connections": ("/org/acme-org/connections/", "No connections yet", 'name="name"'),
    "notification channels": ("/org/acme-org/notifications/", "No channels yet", 'name="name"'),
    "audit streams": ("/org/acme-org/audit/streams/", "No streams yet", 'name="name"'),
    "groups": ("/org/acme-org/groups/", "No groups yet", 'name="slug"'),
    "identities": ("/org/acme-org/identities/", "No machine identities yet", 'name="name"'),
    "pipeline gates": ("/org/acme-org/governance/pipeline-gates/", "No gate yet", 'name="name"'),
    "SCIM tokens": ("/org/acme-org/scim/", "No SCIM tokens yet", 'name="name"'),
    "estate": ("/org/acme-org/estate/", "No Azure DevOps connection yet", "/org/acme-org/connections/"),
}


@pytest.fixture
def admin(cast: Any) -> Client:
    from secrets_app.models import OrganizationMembership, OrgRole

    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.ADMIN)
    client = Client()
    client.force_login(cast.alice)
    return client


def test_every_empty_list_says_so_and_offers_the_next_step(admin: Client) -> None:
    missing = []
    for page, (url, words, action) in EMPTY_LISTS.items():
        response = admin.get(url)
        html = re.sub(r"\s+", " ", response.content.decode())
        if response.status_code != 200:
            missing.append(f"{page}: HTTP {response.status_code}")
            continue
        if words.lower() not in html.lower():
            missing.append(f"{page}: no empty state saying {words!r}")
        if action and action not in html:
            missing.append(f"{page}: no {action} to take the next step")
    assert missing == [], "\n".join(missing)
