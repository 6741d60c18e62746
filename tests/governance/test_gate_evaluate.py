# ruff: noqa: F811  (the fixtures are imported, then named by the tests)
"""The gate's evaluation stays within what an ApiResponse check allows (3 s): 1,000 secrets under
the gate's paths in prod and as many in staging (parity compared), one leaked, one quarantined."""

from __future__ import annotations

import time
from typing import Any

from django.test import Client
from django.utils import timezone

from tests.governance.gate_fixtures import GateWorld, ado, call_gate, secret_at, world  # noqa: F401

SECRETS = 1000


def test_it_evaluates_a_thousand_secrets_well_within_three_seconds(world: GateWorld, capsys: Any) -> None:
    from governance.gate.evaluate import gate_evaluate
    from governance.models import LeakFlag
    from secrets_app.models import Secret
    from secrets_app.services.secrets import SecretInput, secret_bulk_upsert

    scope = world.cast.scope(world.cast.alice)
    for env in ("staging", "prod"):
        items = [SecretInput(key=f"KEY_{index:04d}", value=f"{env}-{index}") for index in range(SECRETS - 2)]
        secret_bulk_upsert(scope=scope, environment=env, path="/backend", items=items)
    leaked = secret_at(world.cast, "KEY_0007")
    LeakFlag.objects.create(secret=leaked, project=world.cast.project, reason="r", flagged_version=leaked.version)
    Secret.objects.filter(pk=secret_at(world.cast, "KEY_0042").pk).update(quarantined_at=timezone.now())

    started = time.perf_counter()
    evaluation = gate_evaluate(world.gate)
    evaluated = time.perf_counter() - started
    build_id, token = world.run()
    call_gate(Client(), world, build_id, token, Authorization="Basic eDp5")  # the process's first request (401)
    started = time.perf_counter()
    answer = call_gate(Client(), world, build_id, token).json()
    answered = time.perf_counter() - started

    assert evaluation.checked == SECRETS
    assert [(f.code, f.key) for f in evaluation.findings] == [("leaked", "KEY_0007"), ("quarantined", "KEY_0042")]
    assert answer["status"] == "fail" and len(answer["findings"]) == 2
    assert evaluated < 3.0 and answered < 3.0
    with capsys.disabled():
        print(f"\ngate evaluation, {SECRETS} secrets: {evaluated:.3f} s; the whole check call: {answered:.3f} s")
