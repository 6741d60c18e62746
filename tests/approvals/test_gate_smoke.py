from __future__ import annotations

from typing import Any

import pytest

from secrets_app.write_gate import HeldForApproval
from tests.approvals.conftest import CANARY


def test_it_holds_a_write_to_a_protected_environment(seeded: Any, make_policy: Any) -> None:
    from secrets_app.services.secrets import SecretInput, secret_update

    make_policy()
    with pytest.raises(HeldForApproval) as held:
        secret_update(
            scope=seeded.scope(seeded.alice),
            environment="prod",
            path="/",
            key="DB_PASSWORD",
            item=SecretInput(key="DB_PASSWORD", value=CANARY),
        )
    assert held.value.held.api_body["status"] == "pending_approval"
    assert CANARY not in str(held.value.held.api_body)
