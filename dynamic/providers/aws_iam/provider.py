"""AWS IAM: an IAM user with an access key per lease, or temporary credentials from STS.

``credentialType`` (Infisical's ``aws-iam`` inputs, ``method`` = ``access-key``):

- ``iam-user`` (default): ``CreateUser`` (path, permissions boundary, tags — always
  ``createdBy=strongroom-dynamic-secret``) → ``AddUserToGroup`` × N → ``AttachUserPolicy`` × N →
  inline ``PutUserPolicy`` ``strongroom-lease`` → ``CreateAccessKey``; data ``ACCESS_KEY``,
  ``SECRET_ACCESS_KEY``, ``USERNAME``. A failure part-way deletes what was made before it raises.
  Revocation removes the user from its groups, deletes its access keys, inline policies, managed
  policy attachments and login profile, then the user. Idempotent: a user that is gone is revoked;
  a user without our ``createdBy`` tag was not made by a lease (a name clash) and is left alone.
- ``temporary-credentials``: ``AssumeRole`` of ``roleArn`` (session name = the lease's username) or,
  without a role, ``GetFederationToken``, scoped down by ``policyDocument`` / ``policyArns``; data
  ``ACCESS_KEY``, ``SECRET_ACCESS_KEY``, ``SESSION_TOKEN``. STS credentials cannot be revoked, so
  their duration is the time left on the lease, rounded down — never longer — within STS's bounds
  (at least 15 minutes; at most 12 h for a role, 36 h for a federation token). Renewal is refused
  and revocation is a no-op that says so.

The endpoint is AWS's (IAM ``iam.amazonaws.com``, STS ``sts.<region>.amazonaws.com``) unless
``endpointUrl`` names another (an AWS-compatible service, a VPC endpoint); either way the host passes
the organization's target allowlist and is dialled at the checked address.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.utils import timezone

from dynamic.providers.base import (
    DynamicProvider,
    NothingCreated,
    PluginField,
    PluginFieldError,
    ProviderError,
    Target,
    UnrecoverableProviderError,
)
from dynamic.providers.http import pin_botocore_client, transport_error
from dynamic.providers.templates import POSTGRESQL
from secrets_app import outbound

IAM_USER = "iam-user"
TEMPORARY = "temporary-credentials"
CREATED_BY = ("createdBy", "strongroom-dynamic-secret")
INLINE_POLICY_NAME = "strongroom-lease"
STS_MIN_SECONDS = 900
# STS stamps the expiry from its own clock when the request arrives, after we computed the time
# left: keep this much in hand so the credentials never outlive the lease (request latency, skew).
STS_MARGIN_SECONDS = 2
ASSUME_ROLE_MAX_SECONDS = 12 * 3600
FEDERATION_MAX_SECONDS = 36 * 3600
FEDERATION_NAME_MAX = 32
DEFAULT_REGION = "us-east-1"
# Where the AWS APIs are: shared with the access-key rotation kind (rotation/kinds/aws_iam).
REGION_FIELD = PluginField("region", "Region", required=False, placeholder=DEFAULT_REGION, max_length=32)
ENDPOINT_FIELD = PluginField(
    "endpointUrl",
    "Endpoint URL",
    input="url",
    required=False,
    help="Leave empty for AWS. IAM and STS calls both go here when set.",
    max_length=500,
)
_PATH_RE = re.compile(r"^/(?:[\x21-\x7e]+/)*\Z")
_TAG_RE = re.compile(r"^([\w .:/=+\-@]{1,128})=([\w .:/=+\-@]{0,256})\Z")
NOT_FOUND = "NoSuchEntity"


def aws_error(what: str, exc: BaseException) -> ProviderError:
    """A safe error for a failed call: AWS's code and message (they name ARNs and actions, never
    a secret key), or the transport failure."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Error")
        message = str(error.get("Message") or "")[:160]
        result = ProviderError(f"{what}: {code}" + (f" ({message})" if message else ""))
        if code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied", "UnrecognizedClientException"):
            result.retryable = False  # refused credentials or permissions: a retry cannot help
        return result
    return transport_error(what, exc)


def aws_error_code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code") or "")


def _csv(value: Any) -> list[str]:
    return [item.strip() for item in str(value or "").split(",") if item.strip()]


def parse_tags(raw: Any) -> list[dict[str, str]]:
    """``key=value, key2=value2`` (or Infisical's ``[{key, value}]``) as AWS tags."""
    if isinstance(raw, list):
        pairs = [(str(item.get("key", "")), str(item.get("value", ""))) for item in raw if isinstance(item, dict)]
    else:
        pairs = []
        for item in _csv(raw):
            match = _TAG_RE.match(item)
            if not match:
                raise PluginFieldError("config.tags", "must be key=value pairs separated by commas")
            pairs.append((match.group(1).strip(), match.group(2).strip()))
    tags = [{"Key": key, "Value": value} for key, value in pairs if key]
    if any(tag["Key"] == CREATED_BY[0] for tag in tags):
        raise PluginFieldError("config.tags", f"the tag {CREATED_BY[0]} is set by Strongroom")
    return tags


def service_url(config: Mapping[str, Any], service: str) -> str:
    """The URL of *service* (``iam`` or ``sts``): ``endpointUrl`` when set (both services go
    there), else AWS's own (IAM is global, STS regional)."""
    if config.get("endpointUrl"):
        return str(config["endpointUrl"]).rstrip("/")
    if service == "iam":
        return "https://iam.amazonaws.com"
    return f"https://sts.{config.get('region') or DEFAULT_REGION}.amazonaws.com"


class AwsIamProvider(DynamicProvider):
    kind = "aws_iam"
    infisical_type = "aws-iam"
    label = "AWS IAM"
    description = "An IAM user with an access key per lease (deleted at expiry), or temporary STS credentials."
    fields = (
        PluginField(
            "credentialType",
            "Credential type",
            input="choice",
            required=False,
            choices=((IAM_USER, "IAM user with an access key"), (TEMPORARY, "Temporary credentials (STS)")),
        ),
        PluginField("accessKey", "Access key ID", help="Of the IAM user Strongroom acts as.", max_length=128),
        PluginField("secretAccessKey", "Secret access key", secret=True, input="password", max_length=128),
        REGION_FIELD,
        ENDPOINT_FIELD,
        PluginField("awsPath", "IAM path", required=False, placeholder="/strongroom/", max_length=512),
        PluginField("permissionBoundaryPolicyArn", "Permissions boundary ARN", required=False, max_length=2048),
        PluginField(
            "policyDocument",
            "Policy document (JSON)",
            input="textarea",
            required=False,
            help="Inline policy of the IAM user, or the session policy of temporary credentials.",
            max_length=10240,
        ),
        PluginField("userGroups", "Groups", required=False, help="Comma-separated group names.", max_length=2000),
        PluginField("policyArns", "Managed policy ARNs", required=False, help="Comma-separated.", max_length=4000),
        PluginField("tags", "Tags", required=False, placeholder="team=payments, env=dev", max_length=4000),
        PluginField(
            "roleArn",
            "Role to assume",
            required=False,
            help="Temporary credentials: AssumeRole this role. Empty: GetFederationToken.",
            max_length=2048,
        ),
        PluginField("externalId", "External ID", required=False, help="Sent with AssumeRole.", max_length=1224),
    )
    dialect = POSTGRESQL  # unused: no statements
    username_max_length = 63  # IAM user names and role session names take 64
    data_keys = ("USERNAME", "SECRET_ACCESS_KEY")  # unused: ``issue`` answers its own keys

    # --- configuration --------------------------------------------------------------------------

    def validate(
        self, *, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        config = dict(config)
        if isinstance(config.get("tags"), list):  # Infisical's [{key, value}]
            config["tags"] = ", ".join(f"{tag['Key']}={tag['Value']}" for tag in parse_tags(config["tags"]))
        cleaned, secrets = super().validate(config=config, credentials=credentials)
        cleaned.setdefault("credentialType", IAM_USER)
        if cleaned.get("policyDocument"):
            try:
                document = json.loads(cleaned["policyDocument"])
            except ValueError:
                raise PluginFieldError("config.policyDocument", "must be a JSON policy document") from None
            if not isinstance(document, dict) or "Statement" not in document:
                raise PluginFieldError("config.policyDocument", "must be a JSON object with a Statement")
        if cleaned.get("awsPath") and not _PATH_RE.match(cleaned["awsPath"]):
            raise PluginFieldError("config.awsPath", "must start and end with / (e.g. /strongroom/)")
        if cleaned.get("endpointUrl"):
            try:
                outbound.split_url(cleaned["endpointUrl"])
            except outbound.OutboundRefused as exc:
                raise PluginFieldError("config.endpointUrl", exc.reason) from None
        parse_tags(cleaned.get("tags"))
        if (
            cleaned["credentialType"] == TEMPORARY
            and not cleaned.get("roleArn")
            and not (cleaned.get("policyDocument") or cleaned.get("policyArns"))
        ):
            raise PluginFieldError(
                "config.policyDocument",
                "temporary credentials without a role need a policy document or policy ARNs "
                "(a federation token has no permissions of its own)",
            )
        return cleaned, secrets

    def _url(self, config: Mapping[str, Any], service: str) -> str:
        return service_url(config, service)

    def _service(self, config: Mapping[str, Any]) -> str:
        return "sts" if config.get("credentialType") == TEMPORARY else "iam"

    def endpoint(self, config: Mapping[str, Any]) -> tuple[str, int, str]:
        try:
            _, host, port = outbound.split_url(self._url(config, self._service(config)))
        except outbound.OutboundRefused:
            return ("", 0, "")
        return (host, port, "")

    def _client(self, target: Target, service: str) -> Any:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(
            aws_access_key_id=str(target.config.get("accessKey") or ""),
            aws_secret_access_key=target.credentials.get("secretAccessKey", ""),
            region_name=str(target.config.get("region") or DEFAULT_REGION),
        )
        client = session.client(
            service,
            endpoint_url=self._url(target.config, service),
            config=Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}),
        )
        pin_botocore_client(client, target)
        return client

    def _call(self, what: str, call: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return call(**kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a safe ProviderError
            raise aws_error(what, exc) from None

    def test(self, target: Target) -> None:
        if self._service(target.config) == "sts":
            self._call("GetCallerIdentity", self._client(target, "sts").get_caller_identity)
        else:
            self._call("GetUser", self._client(target, "iam").get_user)

    # --- leases ---------------------------------------------------------------------------------

    def issue(
        self,
        target: Target,
        *,
        username: str,
        password: str,
        expire_at: Any,
        statements: Sequence[str],
        undo: Sequence[str] = (),
    ) -> dict[str, str]:
        if target.config.get("credentialType") == TEMPORARY:
            return self._temporary_credentials(target, username=username, expire_at=expire_at)
        return self._iam_user(target, username=username)

    def _iam_user(self, target: Target, *, username: str) -> dict[str, str]:
        config = target.config
        iam = self._client(target, "iam")
        create: dict[str, Any] = {
            "UserName": username,
            "Path": config.get("awsPath") or "/",
            "Tags": [{"Key": CREATED_BY[0], "Value": CREATED_BY[1]}, *parse_tags(config.get("tags"))],
        }
        if config.get("permissionBoundaryPolicyArn"):
            create["PermissionsBoundary"] = config["permissionBoundaryPolicyArn"]
        try:
            iam.create_user(**create)
        except Exception as exc:  # noqa: BLE001
            if aws_error_code(exc) == "EntityAlreadyExists":
                raise NothingCreated(
                    "CreateUser: an IAM user of that name exists already (not made by this lease; it is left alone)"
                ) from None
            raise aws_error("CreateUser", exc) from None
        try:
            for group in _csv(config.get("userGroups")):
                self._call("AddUserToGroup", iam.add_user_to_group, GroupName=group, UserName=username)
            for arn in _csv(config.get("policyArns")):
                self._call("AttachUserPolicy", iam.attach_user_policy, UserName=username, PolicyArn=arn)
            if config.get("policyDocument"):
                self._call(
                    "PutUserPolicy",
                    iam.put_user_policy,
                    UserName=username,
                    PolicyName=INLINE_POLICY_NAME,
                    PolicyDocument=config["policyDocument"],
                )
            key = self._call("CreateAccessKey", iam.create_access_key, UserName=username)["AccessKey"]
        except ProviderError as error:
            try:
                self._delete_user(iam, username)
            except ProviderError:
                raise ProviderError(f"{error}; deleting the half-made user failed too") from None
            raise
        return {"ACCESS_KEY": key["AccessKeyId"], "SECRET_ACCESS_KEY": key["SecretAccessKey"], "USERNAME": username}

    def _temporary_credentials(self, target: Target, *, username: str, expire_at: Any) -> dict[str, str]:
        config = target.config
        role = str(config.get("roleArn") or "")
        remaining = math.floor((expire_at - timezone.now()).total_seconds()) - STS_MARGIN_SECONDS
        if remaining < STS_MIN_SECONDS:
            raise UnrecoverableProviderError(
                "STS issues credentials for at least 15 minutes and they cannot be revoked: "
                "ask for a TTL of 16m or more"
            )
        duration = min(remaining, ASSUME_ROLE_MAX_SECONDS if role else FEDERATION_MAX_SECONDS)
        scope: dict[str, Any] = {}
        if config.get("policyDocument"):
            scope["Policy"] = config["policyDocument"]
        if _csv(config.get("policyArns")):
            scope["PolicyArns"] = [{"arn": arn} for arn in _csv(config.get("policyArns"))]
        sts = self._client(target, "sts")
        if role:
            extra = {"ExternalId": config["externalId"]} if config.get("externalId") else {}
            answer = self._call(
                "AssumeRole",
                sts.assume_role,
                RoleArn=role,
                RoleSessionName=username,
                DurationSeconds=duration,
                **scope,
                **extra,
            )
        else:
            if len(username) > FEDERATION_NAME_MAX:
                raise UnrecoverableProviderError(
                    f"GetFederationToken: the name must be at most {FEDERATION_NAME_MAX} characters "
                    "(shorten usernameTemplate)"
                )
            answer = self._call(
                "GetFederationToken", sts.get_federation_token, Name=username, DurationSeconds=duration, **scope
            )
        credentials = answer["Credentials"]
        if credentials["Expiration"] > expire_at:
            # STS's clock ahead of ours: these would outlive the lease and cannot be revoked.
            raise UnrecoverableProviderError("STS answered credentials that outlive the lease (clock skew?)")
        return {
            "ACCESS_KEY": credentials["AccessKeyId"],
            "SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "SESSION_TOKEN": credentials["SessionToken"],
        }

    def renewal_refusal(self, config: Mapping[str, Any]) -> str | None:
        if config.get("credentialType") == TEMPORARY:
            return "temporary AWS credentials cannot be extended: they expire with the lease. Take a new lease instead"
        return None

    def renew_user(self, target: Target, *, username: str, statements: Sequence[str]) -> None:
        """Nothing to do: an IAM user has no expiry of its own (the lease's revocation ends it)."""

    def revoke_user(self, target: Target, *, username: str, statements: Sequence[str]) -> str | None:
        if target.config.get("credentialType") == TEMPORARY:
            return "nothing to revoke: STS credentials cannot be revoked and expire by the lease's end"
        iam = self._client(target, "iam")
        try:
            tags = iam.list_user_tags(UserName=username).get("Tags", [])
        except Exception as exc:  # noqa: BLE001
            if aws_error_code(exc) == NOT_FOUND:
                return None  # gone already: revoked
            raise aws_error("ListUserTags", exc) from None
        if {"Key": CREATED_BY[0], "Value": CREATED_BY[1]} not in tags:
            return "the IAM user of that name was not made by a lease (no createdBy tag): left alone"
        self._delete_user(iam, username)
        return None

    def _delete_user(self, iam: Any, username: str) -> None:
        """Everything that keeps ``DeleteUser`` from succeeding, then the user; NoSuchEntity on
        any step is success (another worker got there first)."""

        def each(operation: str, key: str, **kwargs: Any) -> list[Any]:
            items: list[Any] = []
            try:
                for page in iam.get_paginator(operation).paginate(**kwargs):
                    items += page.get(key, [])
            except Exception as exc:  # noqa: BLE001
                if aws_error_code(exc) != NOT_FOUND:
                    raise aws_error(operation, exc) from None
            return items

        def quietly(what: str, call: Callable[..., Any], **kwargs: Any) -> None:
            try:
                call(**kwargs)
            except Exception as exc:  # noqa: BLE001
                if aws_error_code(exc) != NOT_FOUND:
                    raise aws_error(what, exc) from None

        for group in each("list_groups_for_user", "Groups", UserName=username):
            quietly("RemoveUserFromGroup", iam.remove_user_from_group, GroupName=group["GroupName"], UserName=username)
        for key in each("list_access_keys", "AccessKeyMetadata", UserName=username):
            quietly("DeleteAccessKey", iam.delete_access_key, UserName=username, AccessKeyId=key["AccessKeyId"])
        for name in each("list_user_policies", "PolicyNames", UserName=username):
            quietly("DeleteUserPolicy", iam.delete_user_policy, UserName=username, PolicyName=name)
        for policy in each("list_attached_user_policies", "AttachedPolicies", UserName=username):
            quietly("DetachUserPolicy", iam.detach_user_policy, UserName=username, PolicyArn=policy["PolicyArn"])
        quietly("DeleteLoginProfile", iam.delete_login_profile, UserName=username)
        quietly("DeleteUser", iam.delete_user, UserName=username)
