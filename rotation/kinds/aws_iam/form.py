"""The create form of AWS access key rotations: one IAM user and no mode (``RotationKind.form`` names it; the
connection fields are added from the kind's declaration by ``rotation.ui.forms.rotation_form_class``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms

from rotation.models import RotationMode
from rotation.ui.forms import MONO, RotationBaseForm, owned_key_field


class AwsAccessKeyForm(RotationBaseForm):
    """AWS IAM access keys: one IAM user and no mode (two keys alternate, the previous one valid
    one more interval); the owned secrets are the access key id and the secret access key."""

    id_prefix = "rot-aws"
    fields_template_file = Path(__file__).with_name("form_fields.html")
    key_key_id = owned_key_field("Secret key for the access key ID", "AWS_ACCESS_KEY_ID")
    key_secret = owned_key_field("Secret key for the secret access key", "AWS_SECRET_ACCESS_KEY")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("mode", "user_2", "key_username", "key_password"):
            del self.fields[name]
        self.fields["user_1"] = forms.CharField(
            label="IAM user name",
            max_length=64,
            help_text="The user whose access keys the rotation owns: give it a user of its own.",
            widget=forms.TextInput(attrs=MONO),
        )

    @classmethod
    def error_aliases(cls) -> dict[str, str]:
        aliases = super().error_aliases()
        aliases.update(
            {"usernames": "user_1", "secretsMapping": "key_key_id", "config": "__all__", "credentials": "accessKey"}
        )
        return aliases

    def target_usernames(self, config: dict[str, Any]) -> list[str]:
        return [self.cleaned_data["user_1"].strip()]

    def owned_mapping(self) -> dict[str, str]:
        return {"key_id": self.cleaned_data["key_key_id"].strip(), "secret": self.cleaned_data["key_secret"].strip()}

    def rotation_mode(self) -> str:
        return RotationMode.ALTERNATE
