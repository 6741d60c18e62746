from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from audit import tasks
from audit.models import AuditBlock
from tests.audit.conftest import RecordEvent, tamper

pytestmark = pytest.mark.django_db


def _verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("audit_verify", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_it_prints_ok_and_exits_zero_when_the_chain_is_intact(record_event: RecordEvent) -> None:
    record_event()
    record_event()

    code, output = _verify("--seal-first")

    assert code == 0
    assert output.startswith("OK: 1 chains, 1 blocks, 2 rows verified")


def test_it_prints_the_first_broken_link_and_exits_one(record_event: RecordEvent) -> None:
    event = record_event()
    call_command("audit_seal", stdout=StringIO())
    tamper(event.pk, source_ip="203.0.113.9")

    code, output = _verify()

    assert code == 1
    assert output.strip() == f"BROKEN: chain 1 block 1: event {event.pk} was modified"


def test_it_prints_json_on_request(record_event: RecordEvent) -> None:
    record_event()

    code, output = _verify("--seal-first", "--json")

    result = json.loads(output)
    assert code == 0
    assert (result["ok"], result["blocks_checked"], result["rows_checked"], result["first_broken"]) == (
        True,
        1,
        1,
        None,
    )
    assert result["heads"] == {"1": [1, AuditBlock.objects.get().block_hash]}


def test_it_seals_on_demand_with_audit_seal(record_event: RecordEvent) -> None:
    record_event()
    out = StringIO()

    call_command("audit_seal", stdout=out)

    assert out.getvalue().strip() == "Sealed 1 audit events."
    assert AuditBlock.objects.count() == 1


def test_it_seals_from_the_beat_task_under_its_scheduled_name(record_event: RecordEvent, settings: object) -> None:
    record_event()

    assert tasks.audit_seal_pending.name == settings.CELERY_BEAT_SCHEDULE["audit-seal"]["task"]  # type: ignore[attr-defined]
    assert tasks.audit_seal_pending.apply().get() == 1
