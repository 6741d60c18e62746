"""The official Node SDK (``@infisical/sdk``, pinned in tests/compat/node/package.json), unmodified,
run with node against a live server; and the Node.js example of Infisical's Azure DevOps guide."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.compat.live import live  # noqa: F401 (fixture)

NODE_DIR = Path(__file__).parent / "node"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def node_sdk() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    # xdist workers each run this session fixture: one installs while the others wait on the lock,
    # and the marker (written last) says the install finished, not merely that it began.
    marker = NODE_DIR / "node_modules" / ".strongroom-installed"
    with open(NODE_DIR / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            npm = shutil.which("npm")
            assert npm, "npm is needed to install tests/compat/node (npm ci)"
            subprocess.run([npm, "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"], check=True, timeout=300)
            marker.write_text("npm ci done\n")
    return node


def _run(node: str, script: str, env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [node, str(NODE_DIR / script)],
        cwd=NODE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_node_sdk_login_secrets_folders_imports_renew(node_sdk: str, live: Any) -> None:  # noqa: F811
    site_url, cast, machine = live
    seen = _run(
        node_sdk,
        "compat.mjs",
        {
            "SITE_URL": site_url,
            "CLIENT_ID": machine.client_id,
            "CLIENT_SECRET": machine.client_secret,
            "PROJECT_ID": str(cast.project.public_id),
        },
    )
    assert seen["ok"] is True and seen["withImports"] == ["COMMON", "HOST", "URL"]
    assert "not found" in seen["missing"].lower()


def test_azure_devops_guide_node_example(node_sdk: str, live: Any) -> None:  # noqa: F811
    site_url, cast, machine = live
    db = _run(
        node_sdk,
        "azure-devops-example.cjs",
        {
            "SITE_URL": site_url,
            "INFISICAL_CLIENT_ID": machine.client_id,
            "INFISICAL_CLIENT_SECRET": machine.client_secret,
            "INFISICAL_PROJECT_ID": str(cast.project.public_id),
        },
    )
    assert db == {"connected": True, "length": len("postgres://app@db.prod:5432/app")}
