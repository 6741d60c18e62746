"""The rotation kinds by name. Add a kind: a folder under ``rotation/kinds/`` with a
``RotationKind`` subclass, and one line here."""

from __future__ import annotations

from rotation.kinds.aws_iam import AwsIamAccessKeys
from rotation.kinds.azure_client_secret import AzureClientSecret
from rotation.kinds.base import RotationKind
from rotation.kinds.mysql import MySQLCredentials
from rotation.kinds.postgresql import PostgreSQLCredentials

KINDS: dict[str, RotationKind] = {
    kind.kind: kind for kind in (PostgreSQLCredentials(), MySQLCredentials(), AwsIamAccessKeys(), AzureClientSecret())
}


def kind_for(name: str) -> RotationKind:
    """The kind called *name*; KeyError when there is none."""
    return KINDS[name]
