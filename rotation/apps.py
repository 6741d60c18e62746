from __future__ import annotations

from django.apps import AppConfig


class RotationConfig(AppConfig):
    """Rotation of stored credentials (docs/rotation.md). Its own app, like ``dynamic``: it depends
    on the core (secret writes), ``dynamic`` (targets, sealing style, database drivers) and
    ``notifications``; none of them imports it."""

    name = "rotation"
    label = "rotation"
    verbose_name = "Rotation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A reveal in the UI of a secret a rotation owns queues that rotation (rotation/services/reveal.py);
        # the core asks the hook which rotation that is, to say so before the value is shown.
        from rotation.services.reveal import on_secret_revealed, reveal_rotation_name
        from secrets_app.events import secret_revealed
        from secrets_app.reveal_rotation import reveal_rotation_register

        secret_revealed.connect(on_secret_revealed, dispatch_uid="rotation.reveal_queue")
        reveal_rotation_register(reveal_rotation_name)
