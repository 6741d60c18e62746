"""A write from the web UI that a change policy holds shows a banner linking to the review page
(htmx), or redirects a plain browser request to it; nothing is applied and nothing 500s."""

from __future__ import annotations

from typing import Any

from django.test import Client

from approvals.models import ChangeRequest
from tests.approvals.conftest import CANARY

HX = {"HTTP_HX_REQUEST": "true"}
EDIT = {
    "environment": "prod",
    "path": "/",
    "key": "DB_PASSWORD",
    "version": "1",
    "new_key": "DB_PASSWORD",
    "value": CANARY,
    "comment": "",
    "owner_label": "",
    "purpose": "",
    "expires_at": "",
}


def _as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_htmx_edit_held_for_approval_shows_a_banner_with_the_review_link(seeded: Any, make_policy: Any) -> None:
    make_policy()

    response = _as(seeded.bob).post("/projects/acme/secrets/item/", EDIT, **HX)

    assert response.status_code == 200
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("main", "afterbegin")
    request = ChangeRequest.objects.get()
    html = response.content.decode()
    assert "Change request opened" in html and f"/approvals/changes/{request.public_id}/" in html
    assert "Review it" in html and CANARY not in html
    # A link on this site (a path), whatever SITE_URL says: it is for e-mails.
    assert f'<a href="/projects/acme/approvals/changes/{request.public_id}/">Review it</a>' in html
    assert request.items.get().key == "DB_PASSWORD"


def test_a_plain_folder_rollback_held_for_approval_redirects_to_the_review_page(seeded: Any, make_policy: Any) -> None:
    from secrets_app.models import FolderCommit

    make_policy()
    commit = FolderCommit.objects.filter(folder__environment__slug="prod", folder__path="/").order_by("pk").first()
    assert commit is not None

    response = _as(seeded.alice).post(
        "/projects/acme/history/rollback/", {"environment": "prod", "path": "/", "commit": str(commit.pk)}
    )

    request = ChangeRequest.objects.get()
    assert response.status_code == 303
    assert response["Location"] == f"/projects/acme/approvals/changes/{request.public_id}/"
    assert request.operation == "folder.rolled_back"


def test_the_approvals_page_lists_policies_to_viewers_and_lets_admins_create_one(seeded: Any, make_policy: Any) -> None:
    make_policy(name="payments-prod", path="/payments")

    viewer = _as(seeded.dave).get("/projects/acme/approvals/").content.decode()
    created = _as(seeded.alice).post(
        "/projects/acme/approvals/",
        {
            "name": "dev-guard",
            "environments": ["dev"],
            "path": "/**",
            "approvers": [f"user:{seeded.bob.pk}"],
            "approvals_required": "1",
            "enforcement": "soft",
            "governs_changes": "on",
            "request_ttl_hours": "168",
            "max_access_hours": "8",
        },
        **HX,
    )
    duplicate = _as(seeded.alice).post(
        "/projects/acme/approvals/",
        {
            "name": "again",
            "environments": ["prod"],
            "path": "/payments",
            "approvers": [f"user:{seeded.bob.pk}"],
            "approvals_required": "1",
            "enforcement": "hard",
            "request_ttl_hours": "168",
            "max_access_hours": "8",
        },
        **HX,
    )

    assert "payments-prod" in viewer and "1 of 1" in viewer and "New policy" not in viewer
    assert created.status_code == 200 and "Created policy dev-guard" in created.content.decode()
    assert duplicate.status_code == 422
    assert (
        "A policy for path &#x27;/payments&#x27; already exists in environment &#x27;prod&#x27;"
        in duplicate.content.decode()
    )
    assert _as(seeded.bob).post("/projects/acme/approvals/", {"name": "x"}, **HX).status_code == 403
