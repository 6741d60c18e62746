"""One hash chain per organization (docs/audit.md "Chains").

Before: one chain for the whole instance. After: ``AuditBlock.chain`` is the organization id (0 for
events of no organization), sequences count per chain, and ``sealed_through`` records how far each
sealing run went. The single chain's blocks are checked and then removed, and the sealer re-seals
every event into its organization's chain on its next runs (they are all "unsealed" again).

The check: every row the old chain sealed must still hash to what its block recorded. If one does
not, the migration stops and names it (run ``manage.py audit_verify`` on the previous release to
investigate) unless ``STRONGROOM_AUDIT_RECHAIN_ACCEPT_BROKEN=1`` is set. Either way one
``audit.rechained`` event in the instance chain records the old chain's head hash and block count,
and whether it was intact, so the old head stays provable after the change.

The purge table (``AuditPurge``) is append-only like the other audit tables (the trigger function
of migration 0003 is reused).
"""

import hashlib
import json
import os
from datetime import UTC, datetime

from django.db import migrations, models


_V1_FIELDS = (
    "id", "occurred_at", "action", "outcome", "actor_type", "actor_id", "actor_label", "actor_role",
    "organization_id", "project_id", "environment", "path", "resource_type", "resource_id",
    "source_ip", "user_agent", "request_id", "metadata",
)


def _v1_row_hash(event) -> str:
    row = {name: getattr(event, name) for name in _V1_FIELDS}
    row["occurred_at"] = event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    canonical = json.dumps({"v": 1, "row": row}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _first_break(AuditBlock, AuditEvent) -> str | None:
    for block in AuditBlock.objects.order_by("sequence").iterator(chunk_size=8):
        entries = {int(event_id): row_hash for event_id, row_hash in block.row_hashes}
        found = AuditEvent.objects.filter(id__in=list(entries)).iterator(chunk_size=1000)
        seen = 0
        for event in found:
            seen += 1
            if _v1_row_hash(event) != entries[event.pk]:
                return f"block {block.sequence}: event {event.pk} was modified"
        if seen != len(entries):
            return f"block {block.sequence}: {len(entries) - seen} sealed event(s) are missing"
    return None


def rechain(apps, schema_editor) -> None:
    AuditBlock = apps.get_model("audit", "AuditBlock")
    AuditEvent = apps.get_model("audit", "AuditEvent")
    head = AuditBlock.objects.order_by("-sequence").first()
    if head is None:
        return
    broken = _first_break(AuditBlock, AuditEvent)
    if broken and os.environ.get("STRONGROOM_AUDIT_RECHAIN_ACCEPT_BROKEN") != "1":
        raise RuntimeError(
            f"the audit hash chain is broken ({broken}); investigate with manage.py audit_verify on the previous"
            " release, or set STRONGROOM_AUDIT_RECHAIN_ACCEPT_BROKEN=1 to re-seal per organization anyway"
        )
    count = AuditBlock.objects.count()
    from audit.maintenance import audit_maintenance  # SQLite: the triggers' function reads its flag

    connection = schema_editor.connection
    with audit_maintenance(using=connection.alias):
        AuditBlock.objects.all().delete()
    AuditEvent.objects.create(
        occurred_at=datetime.now(UTC),
        action="audit.rechained",
        actor_type="system",
        actor_id="system",
        actor_label="system",
        metadata={
            "legacy_head_sequence": head.sequence,
            "legacy_head_hash": head.block_hash,
            "legacy_blocks": count,
            "legacy_intact": broken is None,
            "legacy_first_break": broken or "",
        },
    )


_PG_PURGE_TRIGGERS = [
    "CREATE TRIGGER audit_auditpurge_append_only BEFORE UPDATE OR DELETE ON audit_auditpurge "
    "FOR EACH ROW EXECUTE FUNCTION strongroom_audit_refuse_change();",
    "CREATE TRIGGER audit_auditpurge_no_truncate BEFORE TRUNCATE ON audit_auditpurge "
    "FOR EACH STATEMENT EXECUTE FUNCTION strongroom_audit_refuse_change();",
]
_SQLITE_PURGE_TRIGGERS = [
    f"CREATE TRIGGER audit_auditpurge_no_{op.lower()} BEFORE {op} ON audit_auditpurge "
    "WHEN strongroom_audit_maintenance() = 0 "
    f"BEGIN SELECT RAISE(ABORT, 'audit records are append-only: {op} on audit_auditpurge refused'); END;"
    for op in ("UPDATE", "DELETE")
]


def purge_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    statements = _PG_PURGE_TRIGGERS if vendor == "postgresql" else _SQLITE_PURGE_TRIGGERS
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def drop_purge_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditpurge_append_only ON audit_auditpurge;")
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditpurge_no_truncate ON audit_auditpurge;")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditpurge_no_update;")
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditpurge_no_delete;")


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0003_maintenance_role'),
    ]

    operations = [
        migrations.RunPython(rechain, migrations.RunPython.noop),
        migrations.CreateModel(
            name='AuditPurge',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('chain', models.BigIntegerField()),
                ('through_sequence', models.PositiveBigIntegerField()),
                ('through_event_id', models.BigIntegerField()),
                ('anchor_hash', models.CharField(max_length=64)),
                ('events_deleted', models.PositiveBigIntegerField(default=0)),
                ('purged_before', models.DateTimeField()),
                ('purged_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['chain', 'through_sequence'],
            },
        ),
        migrations.AlterModelOptions(
            name='auditblock',
            options={'ordering': ['chain', 'sequence']},
        ),
        migrations.AddField(
            model_name='auditblock',
            name='chain',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='auditblock',
            name='sealed_through',
            field=models.BigIntegerField(db_index=True, default=0),
        ),
        migrations.AlterField(
            model_name='auditblock',
            name='sequence',
            field=models.PositiveBigIntegerField(),
        ),
        migrations.AddIndex(
            model_name='auditblock',
            index=models.Index(fields=['chain', 'last_event_id'], name='audit_block_chain_last'),
        ),
        migrations.AddConstraint(
            model_name='auditblock',
            constraint=models.UniqueConstraint(fields=('chain', 'sequence'), name='audit_block_chain_sequence'),
        ),
        migrations.AddConstraint(
            model_name='auditpurge',
            constraint=models.UniqueConstraint(fields=('chain', 'through_sequence'), name='audit_purge_chain_sequence'),
        ),
        migrations.RunPython(purge_triggers, drop_purge_triggers),
    ]
