from __future__ import annotations

from secrets_app.models import Secret
from secrets_app.selectors.secrets import secret_get, secret_list
from secrets_app.services.last_read import secret_last_read_refresh
from secrets_app.services.secrets import SecretInput, secret_create


def test_it_stamps_last_read_at_from_the_audit_stream_without_writing_on_read(cast) -> None:  # type: ignore[no-untyped-def]
    scope = cast.scope(cast.alice)
    secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key="READ_ME", value="1"))
    secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key="NEVER_READ", value="2"))
    secret_list(scope, environment="dev", path="/")  # names only: not a value read
    assert secret_last_read_refresh() == 0
    secret_get(scope, environment="dev", path="/", key="READ_ME")
    assert Secret.objects.get(key="READ_ME").last_read_at is None  # nothing written on the read path
    assert secret_last_read_refresh() == 1
    assert Secret.objects.get(key="READ_ME").last_read_at is not None
    assert Secret.objects.get(key="NEVER_READ").last_read_at is None
    assert secret_last_read_refresh() == 0  # idempotent: the cursor moved past it
