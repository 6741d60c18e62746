"""The pipeline YAML a team uses once its variables live in Strongroom, for the two approaches of
docs/azure-devops.md (the Infisical guide's patterns with ``strongroom`` as the CLI):

- ``cli``: a machine identity's client id and secret (secret pipeline variables) exchanged with
  ``strongroom login --method=universal-auth`` for a short-lived token, then ``strongroom run``;
- ``oidc``: workload identity federation: the AzureCLI@2 task's ``$idToken`` exchanged with
  ``strongroom login --method=jwt-auth``; no Strongroom credential stored in Azure DevOps.

Both drop the variable group reference (or, for a pipeline, its own variables) and fill in the
import's project, environment and path. Only names, never values. Names from Azure DevOps appear
in YAML comments only, with line breaks removed (a name cannot end a comment and inject YAML).
"""

from __future__ import annotations

import re

from django.conf import settings

from estate.models import EstateImport, ItemStatus, ResourceKind

INSTALL = """- script: |
    set -euo pipefail
    python3 -m pip install --user strongroom-cli   # or: pip install <path-or-url-to>/cli
  displayName: 'Install the Strongroom CLI'
"""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _comment(text: str) -> str:
    return re.sub(r"[\r\n\u2028\u2029\x00-\x1f]+", " ", text)[:200]


def _header(estate_import: EstateImport, server: str) -> str:
    resource = estate_import.resource
    project, env, path = estate_import.project.slug, estate_import.environment.slug, estate_import.path
    lines = [
        "# azure-pipelines.yml",
        f"# Secrets now come from Strongroom: project {project}, environment {env}, path {path}",
        f"# (server {server}).",
    ]
    if resource.kind == ResourceKind.VARIABLE_GROUP:
        lines += [
            "# Remove the variable group from your pipeline's variables:",
            f"#   - group: {_comment(resource.name)}",
        ]
    else:
        lines += [f"# Remove the variables defined on the pipeline '{_comment(resource.name)}' (Edit > Variables):"]
        names = sorted(item.ado_name for item in estate_import.items.all() if item.status != ItemStatus.SKIPPED)
        lines += [f"#   {_comment(name)}" for name in names[:50]]
    keys = sorted(item.key for item in estate_import.items.all() if item.status != ItemStatus.SKIPPED)
    if keys:
        lines.append("# Inside `strongroom run` they are environment variables: " + _comment(", ".join(keys[:30])))
        if any(not _ENV_NAME.match(key) for key in keys):
            lines.append("# (a name with '.' or '-' is read with printenv NAME or os.environ['NAME'], not $NAME)")
    return "\n".join(lines) + "\n"


def _run_step(estate_import: EstateImport, server: str, token_variable: str) -> str:
    env, path = estate_import.environment.slug, estate_import.path
    return f"""- script: |
    set -euo pipefail
    strongroom run --domain {server} \\
      --token="$({token_variable})" \\
      --projectId="$(STRONGROOM_PROJECT)" \\
      --env={env} \\
      --path={path} \\
      -- ./your-command.sh
  displayName: 'Run with secrets from Strongroom'
"""


def import_pipeline_yaml(estate_import: EstateImport) -> dict[str, str]:
    """{"cli": …, "oidc": …}: the two pipelines for *estate_import*'s place."""
    server = str(getattr(settings, "SITE_URL", "") or "https://HOST").rstrip("/")
    project = estate_import.project.slug
    header = _header(estate_import, server)
    variables = f"""variables:
- name: STRONGROOM_PROJECT
  value: '{project}'
"""
    cli = (
        header
        + "# Secret pipeline variables: STRONGROOM_CLIENT_ID and STRONGROOM_CLIENT_SECRET (a machine identity\n"
        + "# with universal auth and read access to the path above).\n"
        + "trigger:\n- main\npool:\n  vmImage: 'ubuntu-latest'\n"
        + variables
        + "steps:\n"
        + INSTALL
        + f"""- script: |
    set -euo pipefail
    STRONGROOM_TOKEN=$(strongroom login --domain {server} \\
      --method=universal-auth \\
      --client-id="$(STRONGROOM_CLIENT_ID)" \\
      --client-secret="$(STRONGROOM_CLIENT_SECRET)" \\
      --silent --plain)
    echo "##vso[task.setvariable variable=STRONGROOM_TOKEN;issecret=true]$STRONGROOM_TOKEN"
  displayName: 'Authenticate with Strongroom'
"""
        + _run_step(estate_import, server, "STRONGROOM_TOKEN")
    )
    oidc = (
        header
        + "# Pipeline variables (not secret): STRONGROOM_IDENTITY_ID (a machine identity with JWT auth bound to\n"
        + "# this service connection, docs/azure-devops.md) and SERVICE_CONNECTION_NAME. No Strongroom credential\n"
        + "# is stored in Azure DevOps.\n"
        + "trigger:\n- main\npool:\n  vmImage: 'ubuntu-latest'\n"
        + variables
        + "steps:\n"
        + INSTALL
        + f"""- task: AzureCLI@2
  displayName: 'Authenticate with Strongroom (workload identity federation)'
  inputs:
    azureSubscription: '$(SERVICE_CONNECTION_NAME)'
    scriptType: 'bash'
    scriptLocation: 'inlineScript'
    addSpnToEnvironment: true
    inlineScript: |
      set -euo pipefail
      # $idToken is the federated OIDC token exposed by addSpnToEnvironment (never print it).
      STRONGROOM_TOKEN=$(strongroom login --domain {server} \\
        --method=jwt-auth \\
        --machine-identity-id="$(STRONGROOM_IDENTITY_ID)" \\
        --jwt="$idToken" \\
        --silent --plain)
      echo "##vso[task.setvariable variable=STRONGROOM_TOKEN;issecret=true]$STRONGROOM_TOKEN"
"""
        + _run_step(estate_import, server, "STRONGROOM_TOKEN")
    )
    return {"cli": cli, "oidc": oidc}
