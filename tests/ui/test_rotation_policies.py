"""Rotation policies in the UI: the policy form on the panel, the "Due for rotation" page, and the
reveal control that warns before a reveal marks the value due."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from secrets_app.models import Environment, Secret
from tests.ui.conftest import HX, PROD_VALUE, assert_no_values

POLICY = "/projects/acme/secrets/rotation-policy/"
PANEL = "/projects/acme/secrets/item/?environment=prod&path=/&key=DATABASE_URL"
REVEAL = "/projects/acme/secrets/value/?environment=prod&path=/&key=DATABASE_URL"
WARNING = "marks it due for rotation"


def _form(**extra: object) -> dict[str, object]:
    return {"environment": "prod", "path": "/", "key": "DATABASE_URL", **extra}


@pytest.mark.django_db
def test_it_saves_the_policy_from_the_panel_and_lists_the_secret_when_due(login, seeded):
    bob = login(seeded.bob)
    response = bob.post(POLICY, _form(interval_days="30", owner=str(seeded.bob.pk)), **HX)
    assert response.status_code == 200, response.content[:500]
    html = response.content.decode()
    assert "every 30 days" in html and "Saved the rotation policy" in html
    assert AuditEvent.objects.filter(action="secret.rotation_policy_set").count() == 1

    assert "Nothing is due for rotation" in bob.get("/projects/acme/secrets-due/").content.decode()
    Secret.objects.filter(environment__slug="prod", key="DATABASE_URL").update(rotation_interval_days=None)
    Environment.objects.filter(slug="prod").update(reveal_marks_due=True)
    bob.get(REVEAL, **HX)
    page = bob.get("/projects/acme/secrets-due/").content.decode()
    assert "DATABASE_URL" in page and "overdue" in page and "revealed" in page
    assert_no_values(page)


@pytest.mark.django_db
def test_it_refuses_the_policy_form_to_a_viewer_and_rejects_a_bad_interval(login, seeded):
    assert login(seeded.dave).post(POLICY, _form(interval_days="30"), **HX).status_code == 403
    response = login(seeded.alice).post(POLICY, _form(interval_days="0"), **HX)
    assert response.status_code == 422
    assert Secret.objects.filter(rotation_interval_days__isnull=False).count() == 0


@pytest.mark.django_db
def test_it_warns_on_the_reveal_control_before_a_reveal_marks_the_value_due(login, seeded):
    alice = login(seeded.alice)
    assert WARNING not in alice.get(PANEL, **HX).content.decode()
    Environment.objects.filter(slug="prod").update(reveal_marks_due=True)
    panel = alice.get(PANEL, **HX).content.decode()
    assert f'hx-confirm="Revealing a value in prod {WARNING}' in panel
    assert_no_values(panel)
    masked = alice.get(REVEAL.replace("/value/", "/masked/"), **HX).content.decode()
    assert WARNING in masked

    revealed = alice.get(REVEAL, **HX).content.decode()
    assert PROD_VALUE in revealed and "now due for rotation" in revealed
    assert Secret.objects.get(environment__slug="prod", key="DATABASE_URL").rotation_due_at is not None
    assert Secret.objects.get(environment__slug="dev", key="DATABASE_URL").rotation_due_at is None
