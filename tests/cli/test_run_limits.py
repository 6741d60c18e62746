"""``strongroom run`` refuses an environment the kernel would refuse, before starting the command,
naming the keys and never a value (the CLI as a subprocess against a live server)."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import CliServer, put

PY = sys.executable
ENTRY_LIMIT = 131_072  # Linux MAX_ARG_STRLEN: KEY=value plus the terminating NUL


def _marker_command(marker: Path) -> list[str]:
    """A command that leaves *marker* behind when it starts, and prints the sizes it was given."""
    script = (
        "import os, sys; open(sys.argv[1], 'w').close(); "
        "print(sorted((k, len(v)) for k, v in os.environ.items() if k.startswith(('BIG', 'BULK', 'NEAR'))))"
    )
    return ["--", PY, "-c", script, str(marker)]


def _run(cli_server: CliServer, marker: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return cli_server.run(
        "run", "--token", cli_server.token, "--projectId", "acme", "--env", "dev", *extra, *_marker_command(marker)
    )


def test_it_refuses_a_200_kb_value_naming_its_key_without_starting_the_command(
    cli_server: CliServer, tmp_path: Path
) -> None:
    big = "BIGVALUE-5e1d" + "v" * 200_000
    put(cli_server.cast, "BIG_CERT_BUNDLE", big)
    put(cli_server.cast, "SMALL_ONE", "small-Val-0c4a")
    marker = tmp_path / "started"

    result = _run(cli_server, marker)

    assert result.returncode == 1, result.stderr
    assert not marker.exists(), "the command was started"
    assert result.stdout == b""
    err = result.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("strongroom: error: "), err
    assert "BIG_CERT_BUNDLE (200,030 bytes)" in err  # 15 + 1 + 200,013 + 1
    assert "131,072" in err and "not started" in err
    assert "strongroom export --env dev --path / --format dotenv -o FILE" in err
    assert "SMALL_ONE" not in err  # only the offending key
    for value_part in (b"BIGVALUE-5e1d", b"vvvvvvvv", b"small-Val-0c4a"):
        assert value_part not in result.stderr + result.stdout


def test_it_refuses_an_environment_over_1_mib_naming_the_largest_secrets(cli_server: CliServer, tmp_path: Path) -> None:
    # Each entry is under the per-variable limit; nine of them are over 1 MiB together, eight are not.
    values = {f"BULK_{index}": f"BULKVAL-{index}-" + "b" * (115_000 + index * 1_000) for index in range(9)}
    for key, value in values.items():
        put(cli_server.cast, key, value)
    marker = tmp_path / "started"

    result = _run(cli_server, marker, "--path", "/", "--recursive")

    assert result.returncode == 1, result.stderr
    assert not marker.exists(), "the command was started"
    err = result.stderr.decode()
    assert err.count("\n") == 1, err
    assert "over the 1,048,576-byte (1 MiB) limit" in err
    # Removing the largest one brings it under 1 MiB: only it is named, with its KEY=value+NUL size.
    assert f"largest secrets: BULK_8 ({6 + 1 + len(values['BULK_8']) + 1:,} bytes);" in err
    assert "BULK_7" not in err
    assert "strongroom export --env dev --path / --recursive --format dotenv -o FILE" in err
    assert b"BULKVAL" not in result.stderr and b"bbbbbbbb" not in result.stderr

    # Without the largest one the rest fits, and the command runs with every value whole.
    put(cli_server.cast, "BULK_8", "short")
    ran = _run(cli_server, marker)
    assert ran.returncode == 0, ran.stderr
    assert marker.exists()
    assert f"('BULK_7', {len(values['BULK_7'])})".encode() in ran.stdout


def test_a_value_exactly_at_the_limit_runs_and_one_byte_more_is_refused(cli_server: CliServer, tmp_path: Path) -> None:
    key = "NEAR_LIMIT"
    longest = ENTRY_LIMIT - len(key) - 2  # "=" and the NUL
    put(cli_server.cast, key, "n" * longest)
    marker = tmp_path / "started"

    ran = _run(cli_server, marker)

    assert ran.returncode == 0, ran.stderr
    assert marker.exists()
    assert f"('NEAR_LIMIT', {longest})".encode() in ran.stdout  # the kernel took it whole

    marker.unlink()
    put(cli_server.cast, key, "n" * (longest + 1))
    refused = _run(cli_server, marker)
    assert refused.returncode == 1
    assert not marker.exists()
    assert b"NEAR_LIMIT (131,073 bytes) is over the 131,072-byte limit" in refused.stderr


def test_it_counts_bytes_not_characters(cli_server: CliServer, tmp_path: Path) -> None:
    # 66,000 "é" are 66,000 characters (under the limit) but 132,000 bytes of UTF-8 (over it).
    put(cli_server.cast, "BIG_UNICODE", "é" * 66_000)
    marker = tmp_path / "started"
    result = _run(cli_server, marker)
    assert result.returncode == 1
    assert not marker.exists()
    assert "BIG_UNICODE (132,013 bytes)" in result.stderr.decode()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel limit measured is Linux's")
def test_the_limit_is_the_kernels(tmp_path: Path) -> None:
    """What the CLI refuses is exactly what execve refuses: the boundary of E2BIG."""
    key = "NEAR_LIMIT"
    longest = ENTRY_LIMIT - len(key) - 2
    ok = subprocess.run(["/bin/sh", "-c", ":"], env={key: "n" * longest}, check=False)
    assert ok.returncode == 0
    with pytest.raises(OSError) as refused:
        subprocess.run(["/bin/sh", "-c", ":"], env={key: "n" * (longest + 1)}, check=False)
    assert refused.value.errno == errno.E2BIG


def test_a_watched_change_too_big_to_pass_keeps_the_running_command(cli_server: CliServer) -> None:
    process = cli_server.popen(
        "run", "--token", cli_server.token, "--projectId", "acme", "--watch", "--watch-interval", "0.3", "--",
        PY, "-c", "import os, time; print('greeting=' + os.environ['GREETING'], flush=True); time.sleep(60)",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline() == b"greeting=hello-from-dev\n"
        put(cli_server.cast, "BIG_CERT_BUNDLE", "BIGVALUE-5e1d" + "v" * 200_000)
        warning = process.stderr.readline()  # the next check sees the change
        assert warning.startswith(b"strongroom: warning: secrets changed but BIG_CERT_BUNDLE (200,030 bytes) is over")
        assert b"the running command is kept" in warning and b"BIGVALUE" not in warning
        assert process.poll() is None  # still the first command: not stopped, not restarted
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
    assert b"restarting" not in err and b"greeting=" not in out  # never started a second time
