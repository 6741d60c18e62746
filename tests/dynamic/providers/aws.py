"""moto in server mode **with authentication enforced** (``INITIAL_NO_AUTH_ACTION_COUNT=0``), as a
subprocess on a free port, plus a recording proxy in front of it.

Bootstrap, as moto documents for server mode: ``POST /moto-api/reset-auth`` with ``3`` lets exactly
three unsigned requests through — create the ``admin`` user, give it ``*``, make its access key —
then ``reset-auth 0`` enforces signatures again. From then on every request must be signed with the
keys of an IAM user that exists, and is authorised against that user's policies: a deleted key
fails with ``InvalidClientTokenId``, a denied action with ``AccessDenied``.

``RecordingProxy`` forwards to moto byte for byte (Host header included, so SigV4 still verifies)
and keeps each answer, so a test reads what STS really answered (the credentials' expiration).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import requests

from tests.emulators.selfsigned import ServerThread
from tests.support.redis_server import free_port

ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen[bytes]
    admin_key: str = ""
    admin_secret: str = field(default="", repr=False)

    def client(self, service: str, key: str | None = None, secret: str | None = None, token: str | None = None) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=key or self.admin_key,
            aws_secret_access_key=secret or self.admin_secret,
            aws_session_token=token,
        )


def start_moto() -> MotoServer:
    port = free_port()
    binary = str(Path(sys.executable).with_name("moto_server"))
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = MotoServer(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(server.url + "/moto-api/", timeout=1)
            break
        except requests.RequestException:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    requests.post(server.url + "/moto-api/reset-auth", data=b"3", timeout=5).raise_for_status()
    bootstrap = server.client("iam", "AKIABOOTSTRAP0000000", "bootstrap")
    bootstrap.create_user(UserName="admin")
    bootstrap.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(ALL))
    key = bootstrap.create_access_key(UserName="admin")["AccessKey"]
    requests.post(server.url + "/moto-api/reset-auth", data=b"0", timeout=5).raise_for_status()
    server.admin_key, server.admin_secret = key["AccessKeyId"], key["SecretAccessKey"]
    return server


class RecordingProxy:
    """Forwards every request to *upstream* and records (path, request body, status, answer)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.exchanges: list[tuple[str, str, int, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {key: value for key, value in self.headers.items() if key.lower() != "content-length"}
                answer = requests.request(
                    self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=30
                )
                proxy.exchanges.append((self.path, body.decode(errors="replace"), answer.status_code, answer.text))
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_DELETE = _forward  # noqa: N815

        self.server = ServerThread(Handler, None)
        self.url = self.server.base_url

    def answers_to(self, action: str) -> list[str]:
        return [answer for _, body, _, answer in self.exchanges if f"Action={action}" in body]

    def stop(self) -> None:
        self.server.stop()


def moto_session() -> Iterator[MotoServer]:
    server = start_moto()
    try:
        yield server
    finally:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
