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
    from secrets_app.models import Folder, Secret, SecretVersion

    # The rows as the secrets service writes them, inserted in bulk (the evaluation reads no value:
    # writing 2,000 encrypted values through the service would only slow the suite down).
    for folder in Folder.objects.filter(environment__project=world.cast.project, path="/backend"):
        secrets = Secret.objects.bulk_create(
            Secret(
                project=world.cast.project,
                environment=folder.environment,
                folder=folder,
                key=f"KEY_{index:04d}",
                version=1,
            )
            for index in range(SECRETS - 2)
        )
        SecretVersion.objects.bulk_create(
            SecretVersion(secret=secret, version=1, value_ciphertext=b"-", change="created") for secret in secrets
        )
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
