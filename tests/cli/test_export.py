"""``strongroom export``: every format, with nasty values, read back by a real reader and compared
byte for byte."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import CliServer

NASTY = {
    "SINGLE_QUOTES": "it's 'quoted'",
    "DOUBLE_QUOTES": 'say "hi" \\"there\\"',
    "SEMICOLONS": "a;b;c",
    "BRACKETS": "x]y[z]",
    "PERCENTS": "100% %0A %0D %3B %5D %AZP25 %25",
    "MULTI_LINE": "line1\nline2\n  indented\n",
    "CARRIAGE": "a\r\nb\rc",
    "UNICODE": "clé 😀 ünïcødé — ✓",
    "LEADING_SPACES": "   leading and trailing   ",
    "BACKSLASHES": "C:\\path\\n\\t\\\\",
    "DOLLARS": "$HOME ${HOME} $(whoami) `id`",
    "HASH": "value # not a comment",
    "EMPTY": "",
    "EQUALS": "a=b==c",
    "TABS": "\tx\t",
    "COMMAS": "a,b,,c",
    "HTML": "<script>&amp;</script>",
    "TEMPLATES": "%{if x}y%{endif} $${z}",
    "YAML_LOOKALIKE": "yes",
    "NUMBER_LOOKALIKE": "0123",
    "NEL": "a\u0085b\u2028c",
}


@pytest.fixture
def nasty(cli_server: CliServer) -> CliServer:
    from secrets_app.services.secrets import SecretInput, secret_bulk_upsert

    items = [SecretInput(key=k, value=v) for k, v in NASTY.items()]
    secret_bulk_upsert(scope=cli_server.cast.scope(cli_server.cast.alice), environment="staging", path="/", items=items)
    return cli_server


def export(server: CliServer, fmt: str, *extra: str) -> bytes:
    result = server.run(
        "export",
        "--token",
        server.token,
        "--projectId",
        server.project_id,
        "--env",
        "staging",
        f"--format={fmt}",
        *extra,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    return result.stdout


def test_dotenv_reads_back_with_python_dotenv(nasty: CliServer, tmp_path: Path) -> None:
    from dotenv import dotenv_values

    target = tmp_path / ".env"
    export(nasty, "dotenv", "-o", str(target))
    # interpolate=False: a dotenv reader that expands ${VAR} would change DOLLARS whatever the quoting.
    assert dict(dotenv_values(target, interpolate=False)) == NASTY
    text = target.read_text()
    assert "GREETING='hello-from-dev'" not in text  # staging only
    assert "HASH='value # not a comment'\n" in text  # Infisical's KEY='VALUE' where it reads back exactly


def test_dotenv_export_reads_back_through_bash_eval(nasty: CliServer) -> None:
    text = export(nasty, "dotenv-export")
    script = 'eval "$(cat)"; exec "$0" -c "import os, json, sys; json.dump(dict(os.environ), sys.stdout)"'
    import sys

    result = subprocess.run(["bash", "-c", script, sys.executable], input=text, capture_output=True, check=True)
    environment = json.loads(result.stdout)
    assert {key: environment[key] for key in NASTY} == NASTY


def test_json_yaml_and_csv_read_back(nasty: CliServer) -> None:
    items = json.loads(export(nasty, "json"))
    assert {item["key"]: item["value"] for item in items} == NASTY
    assert [item["key"] for item in items] == sorted(NASTY)
    assert yaml.safe_load(export(nasty, "yaml").decode("utf-8")) == NASTY
    rows = list(csv.reader(io.StringIO(export(nasty, "csv").decode("utf-8"), newline="")))
    assert rows[0] == ["Key", "Value"]
    assert dict(rows[1:]) == NASTY


def test_tfvars_reads_back_with_python_hcl2(nasty: CliServer) -> None:
    import hcl2

    text = export(nasty, "tfvars").decode("utf-8")
    parsed = hcl2.loads(text, serialization_options=hcl2.SerializationOptions(strip_string_quotes=True))
    # python-hcl2 resolves backslash escapes; the template escapes $${ and %%{ are Terraform's
    # evaluation step (HCL spec: "$${" is a literal "${"), applied here as Terraform would.
    values = {key: re.sub(r"([$%])\1\{", r"\1{", value) for key, value in parsed.items() if not key.startswith("__")}
    assert values == NASTY


def azure_agent_unescape(text: str) -> str:
    """The Azure Pipelines agent (CommandStringConvertor.Unescape with percent decoding)."""
    for token, replacement in ((";", "%3B"), ("\r", "%0D"), ("\n", "%0A"), ("]", "%5D")):
        text = text.replace(replacement, token)
    return text.replace("%AZP25", "%")


def parse_azure(stdout: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Each ``##vso[task.setvariable …]`` line as the agent parses it: name → (value, properties)."""
    found = {}
    for line in stdout.split("\n"):
        if not line:
            continue
        match = re.fullmatch(r"##vso\[task\.setvariable ([^\]]*)\](.*)", line)
        assert match, line
        properties = {}
        for part in match.group(1).split(";"):
            name, _, value = part.partition("=")
            properties[name] = azure_agent_unescape(value)
        found[properties["variable"]] = (azure_agent_unescape(match.group(2)), properties)
    return found


def test_azure_devops_logging_commands_carry_every_value_intact(nasty: CliServer) -> None:
    from tests.cli.conftest import put as put_secret

    put_secret(nasty.cast, "ODD;NAME]", "v;]", environment="staging")
    out = export(nasty, "azure-devops").decode("utf-8")
    assert out.count("\n") == len(NASTY) + 1  # one line per variable, whatever the value holds
    parsed = parse_azure(out)
    assert {name: value for name, (value, _) in parsed.items()} == {**NASTY, "ODD;NAME]": "v;]"}
    assert all(props["issecret"] == "true" for _, props in parsed.values())
    assert "##vso[task.setvariable variable=ODD%3BNAME%5D;issecret=true]v;]\n" in out


def test_github_actions_masks_each_line_and_writes_heredoc_env_lines(nasty: CliServer, tmp_path: Path) -> None:
    github_env = tmp_path / "github_env"
    github_env.write_text("EXISTING=1\n")
    result = nasty.run(
        "export", "--token", nasty.token, "--projectId", "acme", "--env", "staging", "--format", "github-actions",
        env={"GITHUB_ENV": str(github_env)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    masks = result.stdout.decode("utf-8").split("\n")[:-1]  # the runner splits on LF (and CR), not U+0085
    assert all(line.startswith("::add-mask::") for line in masks)
    unescaped = {
        line[len("::add-mask::") :].replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%") for line in masks
    }
    assert {"line1", "line2", "  indented", "it's 'quoted'"} <= unescaped
    # The runner's file-command reader: KEY<<DELIM, lines, DELIM.
    lines = github_env.read_bytes().decode("utf-8").split("\n")
    assert lines[0] == "EXISTING=1"
    values, index = {}, 1
    while index < len(lines) and lines[index]:
        key, delimiter = lines[index].split("<<", 1)
        end = lines.index(delimiter, index + 1)
        values[key] = "\n".join(lines[index + 1 : end])
        index = end + 1
    assert values == NASTY


def test_prefix_and_output_file_written_0600_atomically(nasty: CliServer, tmp_path: Path) -> None:
    target = tmp_path / "terraform.env"
    target.write_text("old\n")
    os.chmod(target, 0o644)
    assert export(nasty, "dotenv-export", "--prefix", "TF_VAR_", "-o", str(target)) == b""
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    text = target.read_text()
    assert text.startswith("export TF_VAR_BACKSLASHES=") and "old" not in text
    assert [p.name for p in tmp_path.iterdir()] == ["terraform.env"]  # no temporary file left behind


def test_tags_filter_the_export(cli_server: CliServer) -> None:
    from secrets_app.services.folders import tag_create
    from secrets_app.services.secrets import SecretInput, secret_bulk_upsert

    scope = cli_server.cast.scope(cli_server.cast.alice)
    tag_create(scope=scope, slug="pci")
    secret_bulk_upsert(
        scope=scope,
        environment="dev",
        path="/",
        items=[SecretInput(key="CARD_KEY", value="c", tags=["pci"]), SecretInput(key="OTHER", value="o")],
    )
    out = cli_server.run(
        "export", "--token", cli_server.token, "--projectId", "acme", "--tags", "pci", "--format", "json"
    )
    assert [item["key"] for item in json.loads(out.stdout)] == ["CARD_KEY"]
