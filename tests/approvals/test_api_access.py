"""Who may call the approvals API: anonymous callers get 401, people outside the project 404 (as if
it did not exist), and the table below lists every route (a new one fails until it is added)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import error_of
from tests.approvals.routes import approval_api_routes

P = "projects/acme/"
POLICY = "00000000-0000-4000-8000-000000000002"
REQUEST = "00000000-0000-4000-8000-000000000003"
PP = "projects/<str:project>/approval-policies/"
CR = "projects/<str:project>/change-requests/"
ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", PP, P + "approval-policies/", None),
    ("post", PP, P + "approval-policies/", {"name": "x", "environments": ["prod"], "approvers": [{"type": "user", "id": "bob@example.com"}]}),
    ("get", PP + "effective/", P + "approval-policies/effective/?environment=prod&path=/", None),
    ("get", PP + "<str:policy>/", P + f"approval-policies/{POLICY}/", None),
    ("patch", PP + "<str:policy>/", P + f"approval-policies/{POLICY}/", {"name": "y"}),
    ("delete", PP + "<str:policy>/", P + f"approval-policies/{POLICY}/", None),
    ("get", CR, P + "change-requests/", None),
    ("get", CR + "<str:request_id>/", P + f"change-requests/{REQUEST}/", None),
    ("post", CR + "<str:request_id>/review/", P + f"change-requests/{REQUEST}/review/", {"status": "approved"}),
    ("post", CR + "<str:request_id>/merge/", P + f"change-requests/{REQUEST}/merge/", {}),
    ("post", CR + "<str:request_id>/close/", P + f"change-requests/{REQUEST}/close/", {}),
    ("post", CR + "<str:request_id>/reopen/", P + f"change-requests/{REQUEST}/reopen/", {}),
    ("post", CR + "<str:request_id>/rebase/", P + f"change-requests/{REQUEST}/rebase/", {}),
    ("post", CR + "<str:request_id>/revise/", P + f"change-requests/{REQUEST}/revise/", {"changes": [{"key": "K", "value": "v"}]}),
    ("post", CR + "<str:request_id>/comments/", P + f"change-requests/{REQUEST}/comments/", {"body": "hi"}),
]  # fmt: skip
IDS = [f"{m} {p}" for m, p, _, _ in ROUTES]


def _call(client: Any, method: str, path: str, body: dict[str, Any] | None) -> Any:
    url = f"/api/v1/{path}"
    return getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)


def test_the_table_covers_every_policy_and_change_request_route() -> None:
    mine = {(m, p) for m, p in approval_api_routes() if p.startswith((PP, CR))}  # access requests: their own tests

    assert mine == {(method, pattern) for method, pattern, _, _ in ROUTES}


@pytest.mark.parametrize(("method", "pattern", "path", "body"), ROUTES, ids=IDS)
def test_it_refuses_anonymous_callers_with_401(
    cast: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    response = _call(api(), method, path, body)

    assert response.status_code == 401 and error_of(response)["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "pattern", "path", "body"), ROUTES, ids=IDS)
def test_it_answers_404_to_charlie_and_mallory(
    cast: Any, api: Any, method: str, pattern: str, path: str, body: Any
) -> None:
    for who in (cast.charlie, cast.mallory):
        response = _call(api(who), method, path, body)
        assert response.status_code == 404, (who, response.content)
