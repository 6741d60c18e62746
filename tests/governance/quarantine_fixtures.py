"""A known history for the quarantine and leak-flag tests.

Project ``acme`` (the cast), environment dev, folder ``/``, built 100 days ago by alice:

- ``STALE`` — delivered once, to bob, 97 days ago (a single read);
- ``NEVER`` — never delivered;
- ``USED`` — delivered to bob 5 days ago and to the machine identity ``ci`` 2 days ago;
- ``NEW`` — created 10 days ago, never delivered (too young to be unused);
- ``REFERS`` — ``url://${STALE}``: a reference to STALE.

The policy offers quarantine after 90 days. ``deliveries_refresh`` has folded every read.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import time_machine
from django.utils import timezone

VALUES = {
    "STALE": "stale-value-7f3a",
    "NEVER": "never-value-91c2",
    "USED": "used-value-55d0",
    "NEW": "new-value-03be",
    "REFERS": "url://${STALE}",
}
PROJECT = "/api/v1/projects/acme"
GOV = f"{PROJECT}/governance"


@dataclass
class History:
    cast: Any
    now: datetime.datetime
    ids: dict[str, int]
    machine: Any  # tests.compat.conftest.Machine (project member)

    def secret(self, key: str) -> Any:
        from secrets_app.models import Secret

        return Secret.objects.get(pk=self.ids[key])


def build_history(cast: Any) -> History:
    from governance.models import GovernancePolicy
    from governance.services.deliveries import deliveries_refresh
    from secrets_app.principals import Principal
    from secrets_app.selectors.access import project_scope_for
    from secrets_app.selectors.secrets import secret_get
    from secrets_app.services.secrets import SecretInput, secret_create
    from tests.compat.conftest import make_machine

    now = timezone.now()
    scope = cast.scope(cast.alice)
    ids: dict[str, int] = {}
    with time_machine.travel(now - datetime.timedelta(days=100), tick=False):
        for key in ("STALE", "NEVER", "USED", "REFERS"):
            ids[key] = secret_create(
                scope=scope, environment="dev", path="/", item=SecretInput(key=key, value=VALUES[key])
            ).pk
    with time_machine.travel(now - datetime.timedelta(days=10), tick=False):
        ids["NEW"] = secret_create(
            scope=scope, environment="dev", path="/", item=SecretInput(key="NEW", value=VALUES["NEW"])
        ).pk
    machine = make_machine(cast.project, "ci", "member")
    bob = project_scope_for(Principal.for_user(cast.bob), cast.project)
    with time_machine.travel(now - datetime.timedelta(days=97), tick=False):
        secret_get(bob, environment="dev", path="/", key="STALE")
    with time_machine.travel(now - datetime.timedelta(days=5), tick=False):
        secret_get(bob, environment="dev", path="/", key="USED")
    with time_machine.travel(now - datetime.timedelta(days=2), tick=False):
        ci = project_scope_for(Principal.for_identity(machine.identity), cast.project)
        secret_get(ci, environment="dev", path="/", key="USED")
    deliveries_refresh()
    GovernancePolicy.objects.create(project=cast.project, quarantine_after_days=90, delete_after_quarantine_days=30)
    return History(cast=cast, now=now, ids=ids, machine=machine)


def quarantine(api: Any, history: History, *keys: str, reason: str | None = None) -> Any:
    body: dict[str, Any] = {"secrets": [history.ids[key] for key in keys]}
    if reason is not None:
        body["reason"] = reason
    return api(history.cast.alice).post(f"{GOV}/quarantines/", body, format="json")


def assert_no_values(text: str) -> None:
    for key, value in VALUES.items():
        if "${" not in value:
            assert value not in text, f"the value of {key} leaked"
