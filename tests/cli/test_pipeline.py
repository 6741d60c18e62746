"""The Azure DevOps guide's pipeline steps (approaches 2 and 4) with ``infisical`` swapped for
``strongroom``, run as bash scripts the way the agent runs them: ``$(VAR)`` macros expanded from
pipeline variables, ``##vso[task.setvariable …]`` lines read from each step's output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.cli.conftest import CLI_PATH, CliServer, cli_env, put
from tests.cli.test_export import azure_agent_unescape

FAKE_TOOL = """#!/bin/sh
# Stands in for {name}: records its arguments and the variables a real one would read.
{{ echo "{name} $*"; for v in DATABASE_URL API_KEY ARM_CLIENT_ID ARM_CLIENT_SECRET TF_VAR_database_url TF_VAR_api_key; do
  eval "val=\\${{$v-}}"; if [ -n "$val" ]; then echo "  $v=$val"; fi; done; }} >> "$TOOL_LOG"
"""


class Agent:
    """Runs steps like an Azure Pipelines agent on Linux (bash, set -euo pipefail in the script)."""

    def __init__(self, server: CliServer, tmp: Path, variables: dict[str, str]) -> None:
        self.variables = dict(variables)
        self.secrets: set[str] = set()
        self.bin = tmp / "bin"
        self.bin.mkdir()
        shim = self.bin / "strongroom"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m strongroom_cli "$@"\n')
        for tool in ("npm", "terraform"):
            (self.bin / tool).write_text(FAKE_TOOL.format(name=tool))
        for path in self.bin.iterdir():
            path.chmod(0o755)
        self.log = tmp / "tools.log"
        self.env = cli_env(server.url, tmp / "config", TOOL_LOG=str(self.log))
        self.env.pop("STRONGROOM_API_URL")
        self.env["STRONGROOM_API_URL"] = server.url  # the agent's only Strongroom setting: where it is
        self.env["PATH"] = f"{self.bin}{os.pathsep}{self.env['PATH']}"
        self.env["PYTHONPATH"] = CLI_PATH

    def step(self, script: str) -> str:
        expanded = re.sub(
            r"\$\(([A-Za-z_][A-Za-z0-9_.]*)\)", lambda m: self.variables.get(m.group(1), m.group(0)), script
        )
        result = subprocess.run(["bash", "-c", expanded], env=self.env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (script, result.stdout, result.stderr)
        for line in result.stdout.splitlines():
            match = re.match(r"##vso\[task\.setvariable ([^\]]*)\](.*)", line)
            if match:
                props = dict(p.partition("=")[::2] for p in match.group(1).split(";"))
                name = azure_agent_unescape(props["variable"])
                self.variables[name] = azure_agent_unescape(match.group(2))
                if props.get("issecret") == "true":
                    self.secrets.add(name)
        return result.stdout

    def tool_log(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def _agent(server: CliServer, tmp_path: Path) -> Agent:
    m = server.machine
    return Agent(
        server,
        tmp_path,
        {
            "INFISICAL_CLIENT_ID": m.client_id,
            "INFISICAL_CLIENT_SECRET": m.client_secret,
            "INFISICAL_PROJECT_ID": server.project_id,
        },
    )


LOGIN_STEP = """
set -euo pipefail
INFISICAL_TOKEN=$(strongroom login \\
  --method=universal-auth \\
  --client-id="$(INFISICAL_CLIENT_ID)" \\
  --client-secret="$(INFISICAL_CLIENT_SECRET)" \\
  --silent --plain)
echo "##vso[task.setvariable variable=INFISICAL_TOKEN;issecret=true]$INFISICAL_TOKEN"
"""


def test_approach_2_login_then_run_for_build_and_deploy(cli_server: CliServer, tmp_path: Path) -> None:
    agent = _agent(cli_server, tmp_path)
    agent.step(LOGIN_STEP)
    assert "INFISICAL_TOKEN" in agent.secrets and agent.variables["INFISICAL_TOKEN"].count(".") == 2
    agent.step("""
set -euo pipefail
strongroom run \\
  --token="$(INFISICAL_TOKEN)" \\
  --projectId="$(INFISICAL_PROJECT_ID)" \\
  --env=prod \\
  --path=/backend/api \\
  -- npm ci
strongroom run \\
  --token="$(INFISICAL_TOKEN)" \\
  --projectId="$(INFISICAL_PROJECT_ID)" \\
  --env=prod \\
  --path=/backend/api \\
  -- npm run build
""")
    # Targeting environments: staging and prod deployments differ only by --env.
    for env in ("staging", "prod"):
        agent.step(f"""
set -euo pipefail
strongroom run \\
  --token="$(INFISICAL_TOKEN)" \\
  --projectId="$(INFISICAL_PROJECT_ID)" \\
  --env={env} \\
  --path=/backend/api \\
  -- npm run deploy
""")
    log = agent.tool_log()
    assert log.count("npm ci\n  DATABASE_URL=postgres://prod-db/app\n") == 1
    assert "npm run build\n  DATABASE_URL=postgres://prod-db/app\n" in log
    assert (
        "npm run deploy\n  DATABASE_URL=postgres://staging-db/app\nnpm run deploy\n  DATABASE_URL=postgres://prod-db/app\n"
        in log
    )


def _seed_infra(cast: Any) -> None:
    from secrets_app.services.folders import folder_create

    scope = cast.scope(cast.alice)
    folder_create(scope=scope, environment="prod", path="/", name="infra")
    for name in ("azure", "shared", "state"):
        folder_create(scope=scope, environment="prod", path="/infra", name=name)
    for key, value in (("ARM_CLIENT_ID", "arm-id-123"), ("ARM_CLIENT_SECRET", "arm s3cret;]%")):
        put(cast, key, value, environment="prod", path="/infra/azure")
    for key, value in (("database_url", "postgres://u:p@db/app?x='1'"), ("api_key", "k e y\nline2")):
        put(cast, key, value, environment="prod", path="/infra/shared")
    for key, value in (
        ("STORAGE_ACCOUNT_NAME", "tfstate01"),
        ("CONTAINER_NAME", "state"),
        ("STORAGE_ACCESS_KEY", "acc/ess+key=="),
    ):
        put(cast, key, value, environment="prod", path="/infra/state")


def test_approach_4_terraform_provider_credentials_input_variables_and_backend(
    cli_server: CliServer, tmp_path: Path
) -> None:
    _seed_infra(cli_server.cast)
    agent = _agent(cli_server, tmp_path)
    agent.step(LOGIN_STEP)
    # Provider credentials through run.
    agent.step("""
set -euo pipefail
strongroom run \\
  --token="$(INFISICAL_TOKEN)" \\
  --projectId="$(INFISICAL_PROJECT_ID)" \\
  --env=prod \\
  --path=/infra/azure \\
  -- bash -c '
    terraform init
    terraform plan -out=tfplan
    terraform apply tfplan
  '
""")
    log = agent.tool_log()
    assert "terraform apply tfplan\n  ARM_CLIENT_ID=arm-id-123\n  ARM_CLIENT_SECRET=arm s3cret;]%\n" in log
    # Input variables: the guide's own dotenv | sed pipeline works unchanged, and --prefix does it directly.
    agent.step("""
set -euo pipefail
eval "$(strongroom export \\
  --token="$(INFISICAL_TOKEN)" \\
  --projectId="$(INFISICAL_PROJECT_ID)" \\
  --env=prod \\
  --path=/infra/shared \\
  --format=dotenv | sed 's/^/export TF_VAR_/')"
terraform apply -guide
""")
    agent.step("""
set -euo pipefail
eval "$(strongroom export \\
  --token="$(INFISICAL_TOKEN)" \\
  --projectId="$(INFISICAL_PROJECT_ID)" \\
  --env=prod \\
  --path=/infra/shared \\
  --format=dotenv-export --prefix TF_VAR_)"
terraform apply -prefix
""")
    log = agent.tool_log()
    expected = "  TF_VAR_database_url=postgres://u:p@db/app?x='1'\n  TF_VAR_api_key=k e y\nline2\n"
    assert "terraform apply -prefix\n" + expected in log
    # The sed pipeline only prefixes each line's start, so a multi-line value breaks it; the
    # single-line variable still arrives intact.
    assert "terraform apply -guide\n  TF_VAR_database_url=postgres://u:p@db/app?x='1'\n" in log
    # Backend configuration via -backend-config="…=$VAR".
    agent.step("""
set -euo pipefail
strongroom run \\
  --token="$(INFISICAL_TOKEN)" \\
  --projectId="$(INFISICAL_PROJECT_ID)" \\
  --env=prod \\
  --path=/infra/state \\
  -- bash -c '
    terraform init \\
      -backend-config="storage_account_name=$STORAGE_ACCOUNT_NAME" \\
      -backend-config="container_name=$CONTAINER_NAME" \\
      -backend-config="access_key=$STORAGE_ACCESS_KEY"
  '
""")
    assert (
        "terraform init -backend-config=storage_account_name=tfstate01 -backend-config=container_name=state "
        "-backend-config=access_key=acc/ess+key==\n"
    ) in agent.tool_log()


def test_the_token_step_output_is_only_the_logging_command(cli_server: CliServer, tmp_path: Path) -> None:
    agent = _agent(cli_server, tmp_path)
    out = agent.step(LOGIN_STEP)
    assert out.splitlines() == [
        f"##vso[task.setvariable variable=INFISICAL_TOKEN;issecret=true]{agent.variables['INFISICAL_TOKEN']}"
    ]
    assert cli_server.machine.client_secret not in out
