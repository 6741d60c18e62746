"""Fixtures for the management side of audit streams (services, API, pages):

- ``recording_kind``: a stream kind ``recording`` registered for the test. It records every test
  event it is asked to send (``RecordingStream.tests``: the context's config and credentials) and
  refuses one whose token is ``BAD_TOKEN`` the way a real kind does (401, as StreamUnavailable), or
  any, with ``RecordingStream.refusal`` set. Its ``url`` is a destination field (outbound guard).
- ``public_dns``: every host name resolves to a public address (tests never depend on real DNS).
- ``admin``: alice made an admin of the cast's organization.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pytest

from audit.streams.base import ChainHead, PluginField, StreamContext, StreamKind, StreamUnavailable
from audit.streams.registry import STREAM_KINDS

GOOD_TOKEN = "tok-3f9a1c77e2b04d5c"
BAD_TOKEN = "tok-bad-0000000000"
URL = "https://siem.example.com/ingest"


class RecordingStream(StreamKind):
    kind = "recording"
    label = "Recording (tests)"
    description = "Records test events in memory."
    fields = (
        PluginField("url", "Endpoint URL", input="url", placeholder="https://siem.example.com/ingest"),
        PluginField("token", "Token", secret=True),
        PluginField("index", "Index", required=False),
    )
    url_fields = ("url",)

    tests: ClassVar[list[dict[str, Any]]] = []
    heads: ClassVar[list[ChainHead | None]] = []
    refusal: ClassVar[str | None] = None

    def send(self, ctx: StreamContext, events: Sequence[Mapping[str, Any]], *, head: ChainHead | None) -> None:
        raise StreamUnavailable("not used by these tests")

    def test(self, ctx: StreamContext, *, head: ChainHead | None) -> None:
        if ctx.credentials.get("token") == BAD_TOKEN:
            # A careless destination echoing the credential: the services must scrub it.
            raise StreamUnavailable(f"HTTP 401 (token {BAD_TOKEN} refused)", status=401)
        if self.refusal:
            raise StreamUnavailable(self.refusal, status=503)
        type(self).tests.append({"config": dict(ctx.config), "credentials": dict(ctx.credentials)})
        type(self).heads.append(head)


@pytest.fixture
def recording_kind() -> Iterator[type[RecordingStream]]:
    RecordingStream.tests.clear()
    RecordingStream.heads.clear()
    RecordingStream.refusal = None
    STREAM_KINDS.register(RecordingStream)
    try:
        yield RecordingStream
    finally:
        STREAM_KINDS.unregister("recording")
        STREAM_KINDS.modules.pop("recording", None)


@pytest.fixture
def public_dns() -> Iterator[None]:
    from secrets_app import outbound

    def resolver(host: str, port: int) -> list[str]:
        return [host] if host[:1].isdigit() else ["93.184.216.34"]

    with outbound.use_resolver(resolver):
        yield


@pytest.fixture
def admin(cast: Any) -> Any:
    from secrets_app.models import OrganizationMembership, OrgRole

    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.ADMIN)
    return cast.alice


def principal(user: Any) -> Any:
    from secrets_app.principals import Principal

    return Principal.for_user(user)


def make_stream(cast: Any, *, name: str = "siem", start: str = "end", **overrides: Any) -> Any:
    from audit.streams.services import stream_create
    from secrets_app.models import OrganizationMembership, OrgRole

    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.ADMIN)
    arguments: dict[str, Any] = {
        "principal": principal(cast.alice),
        "organization": cast.organization,
        "kind": "recording",
        "name": name,
        "config": {"url": URL},
        "credentials": {"token": GOOD_TOKEN},
        "start": start,
        **overrides,
    }
    return stream_create(**arguments)
