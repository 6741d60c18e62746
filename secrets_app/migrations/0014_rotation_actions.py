"""Rotations got their own actions (``rotations.manage``, ``rotations.rotate``); before, managing
and rotating them asked ``dynamic_secrets.manage``. A custom role's rule on that action (or on
``dynamic_secrets.*``) gets a twin on ``rotations.manage`` with the same effect and place (a deny
also one on ``rotations.rotate``, which the old action covered too), so nobody gains or loses
anything on upgrade: an allow keeps allowing, a deny keeps denying."""

from __future__ import annotations

from typing import Any

from django.db import migrations

OLD = ("dynamic_secrets.manage", "dynamic_secrets.*")


def forward(apps: Any, schema_editor: Any) -> None:
    role_rule = apps.get_model("secrets_app", "RoleRule")
    for rule in role_rule.objects.filter(action__in=OLD).order_by("id"):
        # rotations.manage implies rotating for an allow; a deny must stop rotating explicitly.
        actions = ["rotations.manage"] + (["rotations.rotate"] if rule.effect == "deny" else [])
        for action in actions:
            twin = {
                "role_id": rule.role_id,
                "effect": rule.effect,
                "action": action,
                "environments": rule.environments,
                "path": rule.path,
                "tags": rule.tags,
            }
            if not role_rule.objects.filter(**twin).exists():
                role_rule.objects.create(**twin)


class Migration(migrations.Migration):
    dependencies = [("secrets_app", "0013_environment_reveal_rotation_hours")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
