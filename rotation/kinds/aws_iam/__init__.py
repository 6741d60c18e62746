"""AWS IAM access keys of one IAM user, issued by IAM with the rotation's root access key.

``CreateAccessKey`` / ``DeleteAccessKey`` / ``ListAccessKeys`` on the user; a new key is proved
with ``sts:GetCallerIdentity`` signed by that key alone, and the answer's ARN must name the user.
The endpoints (AWS's, or ``endpointUrl`` for an AWS-compatible service), the organization's target
allowlist check, the pinned connections and the safe error text are the AWS IAM dynamic-secret
provider's (``dynamic.providers.aws_iam.provider``).

The IAM user must be dedicated to the rotation: every access key of it that is neither the active
nor the previous one *and was created after the rotation* (``CreateDate``) is taken for a dead
run's orphan and deleted before a new key is issued (AWS allows two per user). Keys older than the
rotation (made by hand before it) are never touched: a user holding two keys is refused on create,
and a run that finds one old key next to the active one fails with a reason naming it.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

from dynamic.providers.aws_iam.provider import (
    DEFAULT_REGION,
    ENDPOINT_FIELD,
    NOT_FOUND,
    REGION_FIELD,
    aws_error,
    aws_error_code,
    service_url,
)
from dynamic.providers.http import pin_botocore_client
from dynamic.targets import target_address
from rotation.kinds.base import IssuedCredential, IssuedCredentialKind, ProviderError, Target
from secrets_app import outbound
from secrets_app.plugins import PluginField, PluginKind

USER_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}\Z")
REGION_RE = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}\Z")
CONFIG_FIELDS = frozenset({"region", "endpointUrl"})
CREDENTIAL_FIELDS = ("accessKey", "secretAccessKey")
# IAM is eventually consistent: a new key can be refused by STS for a few seconds.
VERIFY_SECONDS = 15.0
KEYS_PER_USER = 2  # IAM's quota of access keys per user
_NOT_YET = ("InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException")
_SESSION: Any = None
_SESSION_LOCK = threading.Lock()


class AwsIamRotationFields(PluginKind):
    """The settings and root credentials of the kind, as the UI's forms and pages declare them."""

    kind = "aws_iam_access_key"
    label = "AWS IAM access keys"
    description = "Access keys of one IAM user, issued by IAM and verified with sts:GetCallerIdentity."
    fields = (
        REGION_FIELD,
        ENDPOINT_FIELD,
        PluginField(
            "accessKey",
            "Root access key ID",
            secret=True,
            input="password",
            help="Of the identity that creates, lists and deletes the user's keys.",
            max_length=128,
        ),
        PluginField("secretAccessKey", "Root secret access key", secret=True, input="password", max_length=128),
    )


class AwsIamAccessKeys(IssuedCredentialKind):
    kind = "aws_iam_access_key"
    infisical_type = "aws-iam-user-secret"
    label = "AWS IAM access keys"
    form = "rotation.kinds.aws_iam.form:AwsAccessKeyForm"
    usernames_help = (
        "[the IAM user name], a user dedicated to the rotation (refused when it already holds two access keys; "
        "its keys made before the rotation are never deleted)"
    )
    default_mapping = {"key_id": "AWS_ACCESS_KEY_ID", "secret": "AWS_SECRET_ACCESS_KEY"}
    verify_seconds = VERIFY_SECONDS
    keys_per_principal = KEYS_PER_USER

    def plugin(self) -> PluginKind:
        return AwsIamRotationFields()

    def check_config(self, config: Mapping[str, Any], usernames: list[str]) -> None:
        unknown = sorted(set(config) - CONFIG_FIELDS)
        if unknown:
            raise ValueError(f"config.{unknown[0]} is not a setting of {self.label} (region, endpointUrl)")
        region = str(config.get("region") or "")
        if region and not REGION_RE.match(region):
            raise ValueError("config.region must be an AWS region such as eu-west-1")
        if config.get("endpointUrl"):
            try:
                outbound.split_url(str(config["endpointUrl"]))
            except outbound.OutboundRefused as exc:
                raise ValueError(f"config.endpointUrl: {exc.reason}") from None
        for username in usernames:
            if not USER_NAME_RE.match(username):
                raise ValueError("usernames: an IAM user name (letters, digits and +=,.@_-, 1-64 characters)")

    def check_credentials(self, credentials: Mapping[str, str]) -> None:
        """Raise ValueError naming the missing root credential."""
        for name in CREDENTIAL_FIELDS:
            if not str(credentials.get(name) or "").strip():
                raise ValueError(f"credentials.{name} is required")

    def target(self, *, organization_id: int, config: Mapping[str, Any], credentials: Mapping[str, str]) -> Target:
        addresses: dict[str, str] = {}
        for service in ("iam", "sts"):
            try:
                _, host, port = outbound.split_url(service_url(config, service))
            except outbound.OutboundRefused as exc:
                raise ProviderError(f"endpointUrl: {exc.reason}") from None
            key = host.strip().lower().rstrip(".")
            if key not in addresses:
                addresses[key] = target_address(organization_id=organization_id, host=host, port=port)
        return Target(
            config=dict(config),
            credentials=dict(credentials),
            address=next(iter(addresses.values())),
            addresses=addresses,
        )

    def _client(self, target: Target, service: str, *, key: str = "", secret: str = "") -> Any:
        """A client signing with *key*/*secret* (default: the root key), dialling the checked
        addresses only. Clients come from one shared session: a session loads the service models
        once (~0.1 s each time otherwise); sessions are not thread-safe, so creation is locked."""
        import boto3
        from botocore.config import Config

        global _SESSION
        with _SESSION_LOCK:
            if _SESSION is None:
                _SESSION = boto3.session.Session()
            client = _SESSION.client(
                service,
                endpoint_url=service_url(target.config, service),
                region_name=str(target.config.get("region") or DEFAULT_REGION),
                aws_access_key_id=key or str(target.credentials.get("accessKey") or ""),
                aws_secret_access_key=secret or str(target.credentials.get("secretAccessKey") or ""),
                config=Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 2, "mode": "standard"}),
            )
        pin_botocore_client(client, target)
        return client

    def test_root(self, target: Target) -> None:
        try:
            self._client(target, "sts").get_caller_identity()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a safe ProviderError
            raise aws_error("GetCallerIdentity (root access key)", exc) from None

    def check_principal(self, target: Target, *, principal: str) -> None:
        try:
            self._client(target, "iam").list_access_keys(UserName=principal)
        except Exception as exc:  # noqa: BLE001
            if aws_error_code(exc) == NOT_FOUND:
                raise ProviderError(f"ListAccessKeys: the IAM user {principal} does not exist") from None
            raise aws_error("ListAccessKeys", exc) from None

    def check_new_principal(self, target: Target, *, principal: str) -> None:
        """A user already holding two keys is refused: the rotation would have no room for a key
        of its own, and it never deletes keys older than itself."""
        held = self._access_keys(target, principal)
        if len(held) >= KEYS_PER_USER:
            raise ProviderError(
                f"the IAM user {principal} already holds {len(held)} access keys, the most IAM allows: a rotation"
                " needs an IAM user dedicated to it (it never deletes keys made before it). Delete the user's"
                " keys or create a user for the rotation"
            )

    def issue(
        self, target: Target, *, principal: str, label: str, valid_for: dt.timedelta | None = None
    ) -> IssuedCredential:
        try:
            key = self._client(target, "iam").create_access_key(UserName=principal)["AccessKey"]
        except Exception as exc:  # noqa: BLE001
            raise aws_error("CreateAccessKey", exc) from None
        return IssuedCredential(key_id=str(key["AccessKeyId"]), secret=str(key["SecretAccessKey"]))

    def verify(self, target: Target, *, principal: str, credential: IssuedCredential) -> None:
        sts = self._client(target, "sts", key=credential.key_id, secret=credential.secret)
        deadline = time.monotonic() + self.verify_seconds
        pause = 0.5
        while True:
            try:
                arn = str(sts.get_caller_identity()["Arn"])
                break
            except Exception as exc:  # noqa: BLE001
                if aws_error_code(exc) not in _NOT_YET or time.monotonic() + pause > deadline:
                    raise aws_error("GetCallerIdentity (new access key)", exc) from None
                time.sleep(pause)
                pause = min(pause * 2, 4.0)
        # arn:aws:iam::<account>:user/<path/>name — the key must be the expected user's.
        resource = arn.split(":", 5)[-1]
        if not resource.startswith("user/") or resource.rsplit("/", 1)[-1] != principal:
            raise ProviderError(f"GetCallerIdentity: the new access key belongs to {resource}, not user/{principal}")

    def delete(self, target: Target, *, principal: str, key_id: str) -> None:
        try:
            self._client(target, "iam").delete_access_key(UserName=principal, AccessKeyId=key_id)
        except Exception as exc:  # noqa: BLE001
            if aws_error_code(exc) != NOT_FOUND:
                raise aws_error("DeleteAccessKey", exc) from None

    def _access_keys(self, target: Target, principal: str) -> list[dict[str, Any]]:
        """The user's access keys' metadata (``AccessKeyId``, ``CreateDate`` …)."""
        iam = self._client(target, "iam")
        keys: list[dict[str, Any]] = []
        try:
            for page in iam.get_paginator("list_access_keys").paginate(UserName=principal):
                keys += page.get("AccessKeyMetadata", [])
        except Exception as exc:  # noqa: BLE001
            raise aws_error("ListAccessKeys", exc) from None
        return keys

    def list_key_ids(self, target: Target, *, principal: str, label: str) -> list[str]:
        return [str(key["AccessKeyId"]) for key in self._access_keys(target, principal)]

    def orphan_key_ids(self, target: Target, *, principal: str, label: str, since: dt.datetime) -> list[str]:
        """The user's keys created at or after *since*. IAM dates keys to the second, so *since*
        is taken to the second too: a key of the rotation's first run, issued within the second the
        rotation was created, still counts as the rotation's."""
        floor = since.replace(microsecond=0)
        return [
            str(key["AccessKeyId"])
            for key in self._access_keys(target, principal)
            if isinstance(key.get("CreateDate"), dt.datetime) and key["CreateDate"] >= floor
        ]
