"""``strongroom check parity --from staging --to prod`` against a live server: exit 0 when parity
holds, 1 with the differences one per line, 2 with one readable line when the check cannot run."""

from __future__ import annotations

from tests.cli.conftest import CliServer, put


def _check(cli_server: CliServer, *args: str, token: str | None = None):
    return cli_server.run(
        "check",
        "parity",
        "--token",
        token or cli_server.token,
        "--projectId",
        cli_server.project_id,
        *args,
    )


def test_it_exits_0_when_every_key_of_the_source_is_in_the_target(cli_server: CliServer) -> None:
    result = _check(cli_server, "--from", "staging", "--to", "prod")

    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == [
        "parity from staging to prod at / holds: 0 missing, 0 extra, 0 with the same value"
    ]


def test_it_exits_1_listing_missing_and_extra_keys_and_warning_about_same_values(cli_server: CliServer) -> None:
    cast = cli_server.cast
    put(cast, "NEW_FLAG", "on", environment="staging")
    put(cast, "CACHE_URL", "redis://staging", environment="staging", path="/backend/api")
    put(cast, "LEGACY", "old", environment="prod")
    for env in ("staging", "prod"):
        put(cast, "API_TOKEN", "one-token-for-both-3c9", environment=env)

    result = _check(cli_server, "--from", "staging", "--to", "prod")

    assert result.returncode == 1, result.stderr
    out = result.stdout.decode()
    assert out.splitlines() == [
        "missing NEW_FLAG at /",
        "missing CACHE_URL at /backend/api",
        "extra LEGACY at /",
        "warning: same value API_TOKEN at /",
        "parity from staging to prod at / does not hold: 2 missing, 1 extra, 1 with the same value",
    ]
    assert "one-token-for-both-3c9" not in out + result.stderr.decode()

    below = _check(cli_server, "--from", "staging", "--to", "prod", "--path", "/backend", "--recursive=false")
    assert below.returncode == 0, below.stdout
    # Same value alone warns (exit 0) unless asked to fail.
    put(cast, "LEGACY", "old", environment="staging")
    put(cast, "NEW_FLAG", "on", environment="prod")
    put(cast, "CACHE_URL", "redis://prod", environment="prod", path="/backend/api")
    warned = _check(cli_server, "--from", "staging", "--to", "prod")
    failed = _check(cli_server, "--from", "staging", "--to", "prod", "--fail-on-same-value")
    assert warned.returncode == 0, warned.stdout
    assert "warning: same value API_TOKEN at /" in warned.stdout.decode()
    assert failed.returncode == 1 and "does not hold" in failed.stdout.decode()


def test_it_exits_2_with_one_line_on_usage_auth_and_connection_errors(cli_server: CliServer) -> None:
    usage = cli_server.run("check", "parity", "--to", "prod", "--projectId", cli_server.project_id)
    bad_token = _check(cli_server, "--from", "staging", "--to", "prod", token="srp_not-a-real-token")
    unknown_env = _check(cli_server, "--from", "staging", "--to", "nowhere")
    unreachable = cli_server.run(
        "check", "parity", "--from", "staging", "--to", "prod", "--projectId", "acme", "--token", cli_server.token,
        env={"STRONGROOM_API_URL": "http://127.0.0.1:9"},
    )  # fmt: skip

    for result in (usage, bad_token, unknown_env, unreachable):
        assert result.returncode == 2, (result.stdout, result.stderr)
        lines = result.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("strongroom: error: "), lines
        assert result.stdout == b""
    assert "--from" in usage.stderr.decode()
    assert "nowhere" in unknown_env.stderr.decode()
