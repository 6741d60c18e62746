"""The raw paged ADO client (estate.ado.rest) against the estate emulator: continuation tokens of
each resource, 429 waits equal to Retry-After (sleep injected, nothing waits), the 203 sign-in
page as an authentication failure, and refused destinations."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from msrest.authentication import BasicAuthentication

from estate.ado.rest import PREVIEW, AdoRest
from syncs.providers.base import AuthError, ConfigError, TransientError
from tests.estate.conftest import GOOD_PAT


def _client(org_url: str, sleeps: list[float] | None = None, token: str = GOOD_PAT) -> AdoRest:
    record = sleeps if sleeps is not None else []
    return AdoRest(org_url, BasicAuthentication("", token), concurrency=2, sleep=record.append)


def test_it_follows_each_resources_continuation_token(estate_ado: Any) -> None:
    for n in range(4):
        estate_ado.add_project(f"p{n}")
    ids = [estate_ado.seed_group(f"g{n}", {"K": ("v", False)}) for n in range(5)]
    definitions = [estate_ado.add_definition(f"d{n}") for n in range(3)]
    client = _client(estate_ado.org_url)

    pages = list(client.pages("_apis/projects", what="list the projects", top=2))
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [p["name"] for page in pages for p in page] == ["p0", "p1", "p2", "p3", "proj1"]
    tokens = [r.query.get("continuationToken") for r in estate_ado.reads("_apis/projects")]
    assert tokens == [None, ["2"], ["4"]]  # projects: a skip count

    groups = list(client.items("proj1/_apis/distributedtask/variablegroups", what="list", top=2))
    assert [g["id"] for g in groups] == sorted(ids, reverse=True)  # IdDescending by default
    tokens = [r.query.get("continuationToken") for r in estate_ado.reads("variablegroups")]
    assert tokens == [None, [str(ids[3])], [str(ids[1])]]  # groups: the last id returned

    found = list(client.items("proj1/_apis/build/definitions", {"includeAllProperties": "true"}, what="list", top=2))
    assert [d["id"] for d in found] == definitions and all("variables" in d for d in found)
    assert client.stats.requests == 3 + 3 + 2


def test_a_429_is_waited_out_for_exactly_retry_after(estate_ado: Any, settings: Any) -> None:
    settings.STRONGROOM_ESTATE_MAX_RETRY_WAIT = 60
    estate_ado.fail_next(429, count=2, retry_after=7, path_contains="/_apis/serviceendpoint/")
    sleeps: list[float] = []
    client = _client(estate_ado.org_url, sleeps)
    body, _ = client.get("proj1/_apis/serviceendpoint/endpoints", what="list the service connections")
    assert body == {"count": 0, "value": []}
    assert sleeps == [7.0, 7.0] and client.stats.throttled == 2 and client.stats.requests == 3


def test_retry_after_is_capped(estate_ado: Any, settings: Any) -> None:
    settings.STRONGROOM_ESTATE_MAX_RETRY_WAIT = 5
    estate_ado.fail_next(429, retry_after=3600, path_contains="/securefiles")
    sleeps: list[float] = []
    _client(estate_ado.org_url, sleeps).get("proj1/_apis/distributedtask/securefiles", what="list")
    assert sleeps == [5.0]


def test_throttling_that_never_ends_is_a_transient_error(estate_ado: Any, settings: Any) -> None:
    settings.STRONGROOM_ESTATE_RETRIES = 2
    estate_ado.fail_next(429, count=10, retry_after=1, path_contains="/_apis/projects")
    sleeps: list[float] = []
    with pytest.raises(TransientError, match="Azure DevOps answered 429 while trying to list the projects"):
        _client(estate_ado.org_url, sleeps).get("_apis/projects", what="list the projects")
    assert sleeps == [1.0, 1.0]


def test_pipeline_permissions_need_the_preview_version(estate_ado: Any) -> None:
    group = estate_ado.seed_group("g", {})
    estate_ado.authorize_pipelines("variablegroup", group, all_pipelines=True)
    client = _client(estate_ado.org_url)
    path = f"proj1/_apis/pipelines/pipelinepermissions/variablegroup/{group}"
    with pytest.raises(ConfigError, match="answered 400"):
        client.get(path, what="read permissions")
    body, _ = client.get(path, what="read permissions", api_version=PREVIEW)
    assert body["allPipelines"]["authorized"] is True


def test_a_bad_pat_is_an_auth_error(estate_ado: Any) -> None:
    with pytest.raises(AuthError, match=r"refused access \(401\) while trying to list the projects"):
        _client(estate_ado.org_url, token="nope").get("_apis/projects", what="list the projects")


@pytest.fixture
def sign_in_page() -> Iterator[str]:
    """A server answering every request with ADO's 203 HTML sign-in page."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = b"<html><body>Sign in to your account</body></html>"
            self.send_response(203)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/acme"
    finally:
        server.shutdown()
        server.server_close()


def test_a_sign_in_page_is_an_auth_error(sign_in_page: str) -> None:
    with pytest.raises(AuthError, match="answered with a sign-in page while trying to list the projects"):
        _client(sign_in_page).get("_apis/projects", what="list the projects")


def test_private_destinations_are_refused_before_any_request(estate_ado: Any, settings: Any) -> None:
    settings.STRONGROOM_SYNC_ALLOWED_HOSTS = []
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(ConfigError, match="organization_url"):
        _client(estate_ado.org_url)
    with pytest.raises(ConfigError, match="organization_url"):
        _client("https://169.254.169.254/acme")
    assert estate_ado.requests == []
