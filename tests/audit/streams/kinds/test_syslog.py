"""The syslog kind against the real rsyslogd: RFC 5424 over TLS, octet-counted, parsed by rsyslog."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from audit.cef import cef_line, strongroom_version
from audit.streams.base import PluginFieldError, StreamUnavailable
from audit.streams.kinds.syslog.kind import octet_frame, sd_escape, syslog_message
from audit.streams.registry import stream_kind
from tests.audit.streams.emulators import RsyslogServer, issue_certificate
from tests.audit.streams.kind_fixtures import HEAD, export_row, stream_ctx

KIND = stream_kind("syslog")
BOM = "\ufeff"
# RFC 5424 §6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<timestamp>\S+) (?P<hostname>\S{1,255}) (?P<app>\S{1,48}) (?P<procid>\S{1,128}) "
    r"(?P<msgid>\S{1,32}) (?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?P<msg>.*))?$",
    re.DOTALL,
)
SD_PARAM = re.compile(r'(\w+)="((?:[^"\\\]]|\\.)*)"')


def _ctx(server: RsyslogServer, **config: Any) -> Any:
    credentials = config.pop("credentials", {})
    return stream_ctx(
        "syslog", {"host": "127.0.0.1", "port": server.port, "ca_certificate": server.ca_pem, **config}, credentials
    )


def _params(sd: str) -> dict[str, str]:
    assert sd.startswith("[strongroom@32473 ") and sd.endswith("]")
    return {name: re.sub(r"\\(.)", r"\1", value) for name, value in SD_PARAM.findall(sd)}


def _parsed(record: dict[str, Any]) -> dict[str, Any]:
    match = RFC5424.match(record["raw"])
    assert match is not None, record["raw"][:200]
    return match.groupdict()


def test_each_event_arrives_once_as_rfc5424_with_strongroom_structured_data(rsyslog: RsyslogServer) -> None:
    tricky = 'quote " backslash \\ bracket ] newline \n end'
    rows = [
        export_row(1),
        export_row(2, outcome="deny", action="secret.updated", request_id=tricky),
        export_row(3, outcome="error", action="sync.run_failed", metadata={"why": tricky}),
    ]
    tricky_head = HEAD.__class__(sequence=7, block_hash='ab"c]d\\e')

    KIND.send(_ctx(rsyslog), rows, head=tricky_head)

    records = rsyslog.wait_for(3)
    assert len(records) == 3, rsyslog.log()
    for record, row in zip(records, rows, strict=True):
        parts = _parsed(record)
        # rsyslog's own RFC 5424 parse agrees with ours
        assert (record["msgid"], record["appname"], record["hostname"]) == (
            row["action"],
            "strongroom",
            "strongroom.example.com",
        )
        assert record["sd"] == parts["sd"]
        params = _params(parts["sd"])
        assert params["eventId"] == str(row["id"]) and params["rowHash"] == row["row_hash"]
        assert params["organizationId"] == "1" and params["outcome"] == row["outcome"]
        assert (params["blockSeq"], params["blockHash"]) == ("3", row["block_hash"])
        assert (params["chainSeq"], params["chainHead"]) == ("7", 'ab"c]d\\e')
        assert parts["timestamp"] == row["occurred_at"].replace("+00:00", "Z")
        event = json.loads(parts["msg"])
        assert {key: event[key] for key in row} == row and event["chain_head_hash"] == 'ab"c]d\\e'
    assert [int(_parsed(record)["pri"]) for record in records] == [4 * 8 + 5, 4 * 8 + 4, 4 * 8 + 3]
    assert [json.loads(_parsed(record)["msg"])["id"] for record in records] == [1, 2, 3]  # once each, in order


def test_cef_format_carries_the_cef_line_as_msg(rsyslog: RsyslogServer) -> None:
    rows = [export_row(1, actor_label="zoë"), export_row(2, actor_label="bob")]

    KIND.send(_ctx(rsyslog, format="cef", facility="local0", app_name="vault"), rows, head=HEAD)

    records = rsyslog.wait_for(2)
    assert len(records) == 2, rsyslog.log()
    version = strongroom_version()
    for record, row in zip(records, rows, strict=True):
        parts = _parsed(record)
        assert parts["app"] == "vault" and int(parts["pri"]) == 16 * 8 + 5
        msg = parts["msg"]
        if not row["actor_label"].isascii():  # RFC 5424 §6.4: UTF-8 MSG starts with a BOM
            assert msg.startswith(BOM)
            msg = msg[1:]
        assert msg == cef_line(row, version=version)


def test_a_batch_is_written_on_one_connection(rsyslog: RsyslogServer) -> None:
    KIND.send(_ctx(rsyslog), [export_row(n) for n in range(1, 201)], head=HEAD)

    records = rsyslog.wait_for(200)
    assert [json.loads(_parsed(record)["msg"])["id"] for record in records] == list(range(1, 201))


def test_its_test_event_arrives(rsyslog: RsyslogServer) -> None:
    KIND.test(_ctx(rsyslog, format="cef"), head=HEAD)

    (record,) = rsyslog.wait_for(1)
    assert record["msgid"] == "strongroom.stream_test"
    assert "|strongroom.stream_test|Strongroom stream test|1|" in _parsed(record)["msg"]


def test_a_receiver_that_is_down_is_unavailable_then_gets_the_batch(rsyslog: RsyslogServer) -> None:
    ctx = _ctx(rsyslog)
    rsyslog.down()

    with pytest.raises(StreamUnavailable) as unavailable:
        KIND.send(ctx, [export_row(1)], head=HEAD)

    assert "127.0.0.1" in str(unavailable.value)
    rsyslog.up()
    KIND.send(ctx, [export_row(1)], head=HEAD)
    assert len(rsyslog.wait_for(1)) == 1


def test_a_certificate_from_another_ca_is_refused(rsyslog: RsyslogServer) -> None:
    other = RsyslogServer()  # not started: only its CA is used
    try:
        ctx = _ctx(rsyslog, ca_certificate=other.ca_pem)
        with pytest.raises(StreamUnavailable) as unavailable:
            KIND.send(ctx, [export_row(1)], head=HEAD)
    finally:
        other.stop()

    assert "not trusted" in str(unavailable.value)
    assert rsyslog.wait_for(1, timeout=1) == []


def test_mutual_tls_presents_the_client_certificate(rsyslog_mtls: RsyslogServer) -> None:
    client = issue_certificate(rsyslog_mtls.ca, "strongroom-client")
    anonymous = _ctx(rsyslog_mtls)
    try:  # refused in the handshake (TLS 1.2) or right after it (TLS 1.3): either way nothing is logged
        KIND.send(anonymous, [export_row(1)], head=HEAD)
    except StreamUnavailable:
        pass
    assert rsyslog_mtls.wait_for(1, timeout=1) == []

    ctx = _ctx(rsyslog_mtls, credentials={"client_certificate": client.cert_pem, "client_key": client.key_pem})
    KIND.send(ctx, [export_row(2)], head=HEAD)

    records = rsyslog_mtls.wait_for(1)
    assert [json.loads(_parsed(record)["msg"])["id"] for record in records] == [2]
    assert client.key_pem not in repr(ctx)


def test_sd_values_escape_quote_backslash_and_bracket() -> None:
    assert sd_escape('a"b\\c]d') == 'a\\"b\\\\c\\]d'


def test_framing_is_octet_counting_in_bytes() -> None:
    message = syslog_message(export_row(1, actor_label="zoë"), config={"format": "cef"}, head=HEAD, version="1")
    length, _, rest = octet_frame(message).partition(b" ")
    assert int(length) == len(rest) == len(message)


def test_the_msgid_is_at_most_32_printable_characters() -> None:
    message = syslog_message(export_row(1, action="a" * 40 + " x"), config={}, head=None, version="1")
    assert message.split(b" ")[5] == b"a" * 32


@pytest.mark.parametrize(
    ("config", "credentials", "field"),
    [
        ({}, {}, "config.host"),
        ({"host": "syslog example"}, {}, "config.host"),
        ({"host": "169.254.169.254"}, {}, "config.host"),
        ({"host": "2130706433"}, {}, "config.host"),
        ({"host": "syslog.example.com", "port": 70000}, {}, "config.port"),
        ({"host": "syslog.example.com", "transport": "udp"}, {}, "config.transport"),
        ({"host": "syslog.example.com", "format": "xml"}, {}, "config.format"),
        ({"host": "syslog.example.com", "facility": "kern"}, {}, "config.facility"),
        ({"host": "syslog.example.com", "ca_certificate": "nope"}, {}, "config.ca_certificate"),
        ({"host": "syslog.example.com"}, {"client_certificate": "x"}, "credentials.client_key"),
    ],
)
def test_it_names_the_field_of_a_bad_setting(
    settings: Any, config: dict[str, Any], credentials: dict[str, Any], field: str
) -> None:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(PluginFieldError) as refused:
        KIND.validate(config=config, credentials=credentials)
    assert refused.value.field == field


def test_plain_tcp_is_only_for_allow_listed_hosts(settings: Any) -> None:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(PluginFieldError) as refused:
        KIND.validate(config={"host": "203.0.113.10", "transport": "tcp"}, credentials={})
    assert "use TLS" in str(refused.value)

    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["203.0.113.10"]
    config, _ = KIND.validate(config={"host": "203.0.113.10", "transport": "tcp"}, credentials={})
    assert (config["transport"], config["port"]) == ("tcp", 6514)


def test_plain_tcp_to_rsyslog(stream_outbound: Any) -> None:
    from tests.audit.streams.kind_fixtures import _rsyslog_or_skip

    _rsyslog_or_skip()
    with RsyslogServer(tls=False) as server:
        ctx = stream_ctx("syslog", {"host": "127.0.0.1", "port": server.port, "transport": "tcp"}, {})
        KIND.send(ctx, [export_row(1), export_row(2)], head=HEAD)
        records = server.wait_for(2)
    assert [record["msgid"] for record in records] == ["secret.value_read", "secret.value_read"]
