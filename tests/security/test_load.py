"""G2: parallel reads against a live server by identities of different scopes: every answer is the
one the A1 oracle gives, no value ever crosses a scope, and every request leaves one audit event.
Bounded for the suite (a few hundred requests); the long run with latency figures is ``make bench``."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import pytest
import requests

from audit.models import AuditEvent
from tests.security.world import build_world, expected, key_for, oracle

THREADS = 20
READS_PER_THREAD = 15
PRINCIPALS = ("org_owner", "project_admin", "dev_only", "ci_identity", "viewer")


@pytest.mark.slow
def test_G2_parallel_readers_get_only_their_scope_and_each_read_is_audited(
    transactional_db: None, live_server: Any
) -> None:
    from tests.conftest import build_cast

    world = build_world(build_cast())
    spec = oracle()
    tokens = {name: world.clients[name]._credentials["HTTP_AUTHORIZATION"] for name in PRINCIPALS}
    value_place = world.all_values()
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    problems: list[str] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def reader(seed: int) -> None:
        pick = random.Random(seed)
        session = requests.Session()
        for _ in range(READS_PER_THREAD):
            principal = pick.choice(PRINCIPALS)
            env, path = pick.choice(spec["environments"]), pick.choice(spec["paths"])
            listing = pick.random() < 0.3
            action = "export" if listing else "read_value"
            url = f"{live_server.url}/api/v1/projects/acme/secrets/" + ("" if listing else f"{key_for(env, path)}/")
            params = {"environment": env, "path": path, **({"include_values": "true"} if listing else {})}
            answer = session.get(url, params=params, headers={"Authorization": tokens[principal]}, timeout=30)
            want = expected(principal, "P1", env, path, action)
            got = "allow" if answer.status_code == 200 else str(answer.status_code)
            leaked = [
                place
                for value, place in value_place.items()
                if value in answer.text and expected(principal, *place, "read_value") != "allow"
            ]
            with lock:
                statuses[answer.status_code] += 1
                if got != want:
                    problems.append(f"{principal} {env}:{path} {action}: expected {want}, got {got}")
                if leaked:
                    problems.append(f"{principal} {env}:{path} {action} leaked values of {leaked}")

    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert problems == [], "\n".join(problems[:20])
    assert sum(statuses.values()) == THREADS * READS_PER_THREAD
    assert statuses[200] > 0 and statuses[403] + statuses[404] > 0, statuses
    events = AuditEvent.objects.filter(
        id__gt=before, action__in=["secret.value_read", "secret.values_read", "secret.listed", "permission.denied"]
    )
    assert events.count() == THREADS * READS_PER_THREAD, (events.count(), statuses)
