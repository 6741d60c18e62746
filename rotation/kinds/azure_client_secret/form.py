"""The create form of Entra client secret rotations: no users and no mode (``RotationKind.form`` names it; the
connection fields are added from the kind's declaration by ``rotation.ui.forms.rotation_form_class``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rotation.models import RotationMode
from rotation.ui.forms import RotationBaseForm, owned_key_field


class EntraClientSecretForm(RotationBaseForm):
    """Entra application client secrets: no users and no mode (the application's secrets alternate,
    the previous one valid one more interval); the application is ``objectId`` of the settings,
    and the owned secrets are its client ID and the current client secret."""

    id_prefix = "rot-entra"
    fields_template_file = Path(__file__).with_name("form_fields.html")
    key_client_id = owned_key_field("Secret key for the client ID", "AZURE_CLIENT_ID")
    key_client_secret = owned_key_field("Secret key for the client secret", "AZURE_CLIENT_SECRET")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("mode", "user_1", "user_2", "key_username", "key_password"):
            del self.fields[name]

    @classmethod
    def error_aliases(cls) -> dict[str, str]:
        aliases = super().error_aliases()
        aliases.update({"usernames": "objectId", "secretsMapping": "key_client_id", "config": "__all__"})
        return aliases

    def target_usernames(self, config: dict[str, Any]) -> list[str]:
        return [str(config.get("objectId") or "")]

    def owned_mapping(self) -> dict[str, str]:
        data = self.cleaned_data
        return {"client_id": data["key_client_id"].strip(), "client_secret": data["key_client_secret"].strip()}

    def rotation_mode(self) -> str:
        return RotationMode.ALTERNATE
