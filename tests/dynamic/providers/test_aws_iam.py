"""AWS IAM leases against moto in server mode with authentication enforced, driven by the real
boto3: a leased key is a real IAM user's key, so "the revoked key fails" means something."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.dynamic.providers.aws import MotoServer, RecordingProxy

pytestmark = pytest.mark.django_db

LEASE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["sts:GetCallerIdentity", "iam:ListUsers"], "Resource": "*"}],
}


def _define(cast: Any, moto: MotoServer, *, url: str | None = None, name: str = "aws", **config: Any) -> Any:
    from dynamic.services.definitions import Definition, dynamic_secret_create

    secret_key = config.pop("secret", moto.admin_secret)
    username_template = config.pop("username_template", None)
    return dynamic_secret_create(
        scope=cast.scope(cast.alice),
        environment="dev",
        path="/",
        name=name,
        provider="aws_iam",
        definition=Definition(
            config={"accessKey": moto.admin_key, "endpointUrl": url or moto.url, **config},
            credentials={"secretAccessKey": secret_key},
            default_ttl="1h",
            max_ttl="24h",
            username_template=username_template,
        ),
    )


def _lease(cast: Any, secret: Any, ttl: Any = None) -> Any:
    from dynamic.services.leases import lease_create

    return lease_create(scope=cast.scope(cast.bob), secret=secret, ttl=ttl)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_it_leases_an_iam_user_whose_key_works_until_revoked(
    cast: Any, allow_local: None, dyn_settings: Any, moto: MotoServer
) -> None:
    from dynamic.services.leases import lease_revoke

    iam = moto.client("iam")
    group = f"readers-{uuid.uuid4().hex[:8]}"
    iam.create_group(GroupName=group)
    managed = iam.create_policy(
        PolicyName=f"managed-{uuid.uuid4().hex[:8]}",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [LEASE_POLICY["Statement"][0]]}),
    )["Policy"]["Arn"]
    secret = _define(
        cast,
        moto,
        policyDocument=json.dumps(LEASE_POLICY),
        userGroups=group,
        policyArns=managed,
        awsPath="/strongroom/",
        tags="team=payments",
    )

    issued = _lease(cast, secret)

    assert set(issued.data) == {"ACCESS_KEY", "SECRET_ACCESS_KEY", "USERNAME"}
    username = issued.data["USERNAME"]
    assert issued.lease.username == username and re.match(r"^sr-[a-z0-9]{24}$", username)
    leased_sts = moto.client("sts", issued.data["ACCESS_KEY"], issued.data["SECRET_ACCESS_KEY"])
    assert leased_sts.get_caller_identity()["Arn"].endswith(f":user/strongroom/{username}")
    leased_iam = moto.client("iam", issued.data["ACCESS_KEY"], issued.data["SECRET_ACCESS_KEY"])
    assert username in {user["UserName"] for user in leased_iam.list_users()["Users"]}  # allowed by its policy
    with pytest.raises(ClientError) as denied:
        leased_iam.list_roles()  # not allowed
    assert _code(denied) == "AccessDenied"
    tags = {tag["Key"]: tag["Value"] for tag in iam.list_user_tags(UserName=username)["Tags"]}
    assert tags == {"createdBy": "strongroom-dynamic-secret", "team": "payments"}
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=username)["Groups"]] == [group]

    revoked = lease_revoke(scope=cast.scope(cast.bob), lease=issued.lease)

    assert revoked.status == "revoked"
    with pytest.raises(ClientError) as refused:
        leased_sts.get_caller_identity()
    assert _code(refused) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as gone:
        iam.get_user(UserName=username)
    assert _code(gone) == "NoSuchEntity"
    assert iam.get_group(GroupName=group)["Users"] == []


def test_the_iam_user_revocation_is_idempotent_and_leaves_a_name_clash_alone(
    cast: Any, allow_local: None, dyn_settings: Any, moto: MotoServer
) -> None:
    from dynamic.models import Lease
    from dynamic.services.leases import LeaseCreateFailed
    from dynamic.services.revocation import revoke_remote

    secret = _define(cast, moto, policyDocument=json.dumps(LEASE_POLICY))
    issued = _lease(cast, secret)
    lease = Lease.objects.get(pk=issued.lease.pk)
    assert revoke_remote(lease) is None
    assert revoke_remote(lease) is None  # the user is gone: revoked again without an error

    # Someone else's user has the name the template makes: the lease fails and leaves it alone.
    taken = f"taken-{uuid.uuid4().hex[:8]}"
    moto.client("iam").create_user(UserName=taken)
    clashing = _define(cast, moto, name="clash", policyDocument=json.dumps(LEASE_POLICY), username_template=taken)
    with pytest.raises(LeaseCreateFailed, match="exists already"):
        _lease(cast, clashing)
    assert moto.client("iam").get_user(UserName=taken)["User"]["UserName"] == taken
    failed = Lease.objects.get(dynamic_secret=clashing)
    assert failed.status == "revoked"


def test_it_hands_out_sts_credentials_that_end_with_the_lease_and_cannot_be_renewed(
    cast: Any, allow_local: None, dyn_settings: Any, moto: MotoServer, moto_proxy: RecordingProxy
) -> None:
    from audit.models import AuditEvent
    from dynamic.services.leases import LeaseCreateFailed, lease_renew, lease_revoke
    from secrets_app.errors import ValidationFailed

    iam = moto.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName=f"deploy-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps(trust))
    secret = _define(
        cast, moto, url=moto_proxy.url, credentialType="temporary-credentials", roleArn=role["Role"]["Arn"]
    )

    issued = _lease(cast, secret, ttl="20m")

    assert set(issued.data) == {"ACCESS_KEY", "SECRET_ACCESS_KEY", "SESSION_TOKEN"}
    session = moto.client(
        "sts", issued.data["ACCESS_KEY"], issued.data["SECRET_ACCESS_KEY"], issued.data["SESSION_TOKEN"]
    )
    assert session.get_caller_identity()["Arn"].endswith(f"/{issued.lease.username}")
    (answer,) = moto_proxy.answers_to("AssumeRole")
    expiration = datetime.datetime.fromisoformat(re.search(r"<Expiration>([^<]+)</Expiration>", answer).group(1))
    assert expiration.tzinfo is not None
    assert expiration <= issued.lease.expire_at
    assert issued.lease.expire_at - expiration < datetime.timedelta(seconds=5)  # the time left, rounded down

    with pytest.raises(ValidationFailed, match="cannot be extended"):
        lease_renew(scope=cast.scope(cast.bob), lease=issued.lease, ttl="10m")
    revoked = lease_revoke(scope=cast.scope(cast.bob), lease=issued.lease)
    assert revoked.status == "revoked"
    event = AuditEvent.objects.filter(action="lease.revoked", resource_id=str(issued.lease.public_id)).get()
    assert "cannot be revoked" in event.metadata["note"]

    with pytest.raises(LeaseCreateFailed, match="at least 15 minutes"):
        _lease(cast, secret, ttl="10m")  # STS cannot make credentials that short: refused, not lengthened


def test_a_federation_token_lasts_no_longer_than_the_lease(
    cast: Any, allow_local: None, dyn_settings: Any, moto: MotoServer, moto_proxy: RecordingProxy
) -> None:
    """moto answers GetFederationToken with fixed example keys it does not accept back, so this
    proves the request and its duration, not the use of the keys (AssumeRole above does)."""
    secret = _define(
        cast, moto, url=moto_proxy.url, credentialType="temporary-credentials", policyDocument=json.dumps(LEASE_POLICY)
    )

    issued = _lease(cast, secret, ttl="2h")

    (request,) = [body for _, body, _, _ in moto_proxy.exchanges if "Action=GetFederationToken" in body]
    assert f"Name={issued.lease.username}" in request
    duration = int(re.search(r"DurationSeconds=(\d+)", request).group(1))  # type: ignore[union-attr]
    assert 7190 <= duration < 7200  # the time left on the lease, less a margin for STS's clock
    (answer,) = moto_proxy.answers_to("GetFederationToken")
    expiration = datetime.datetime.fromisoformat(re.search(r"<Expiration>([^<]+)</Expiration>", answer).group(1))
    assert expiration <= issued.lease.expire_at
    assert issued.data["SESSION_TOKEN"]


def test_it_tests_the_root_key_on_save_and_never_echoes_it(
    cast: Any, allow_local: None, dyn_settings: Any, moto: MotoServer
) -> None:
    from secrets_app.errors import ValidationFailed

    wrong = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGKEY"
    with pytest.raises(ValidationFailed) as refused:
        _define(cast, moto, secret=wrong)
    assert "Provider connection failed" in str(refused.value) and "SignatureDoesNotMatch" in str(refused.value)
    assert wrong not in str(refused.value)


def test_the_endpoint_must_be_on_the_organization_allowlist(cast: Any, dyn_settings: Any, moto: MotoServer) -> None:
    from secrets_app.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="not on the organization's dynamic secret target allowlist"):
        _define(cast, moto)
