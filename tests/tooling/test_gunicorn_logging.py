"""gunicorn's access log never carries an invitation link's token (config/gunicorn_logging.py)."""

from __future__ import annotations

import datetime
import runpy
from pathlib import Path
from types import SimpleNamespace

from gunicorn.config import Config

from config.gunicorn_logging import RedactingAccessLogger

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "0f5c2d7e9a1b4c3d8e6f0a2b4c6d8e0f.Xy_Zsecret-part:1xaQJr:IS0B7ww9pSxkczdUQkbWm0jvme5rTU5t"


def test_it_logs_an_invitation_link_without_its_token() -> None:
    logger = RedactingAccessLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/invite/{TOKEN}/",
        "PATH_INFO": f"/invite/{TOKEN}/",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": f"https://strongroom.example.com/invite/{TOKEN}/",
        "REMOTE_ADDR": "192.0.2.7",
    }
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    response = SimpleNamespace(status="302 Found", sent=0, headers=[("Location", "/invite/accept/")])
    atoms = logger.atoms(response, request, environ, datetime.timedelta(milliseconds=12))

    line = " ".join(str(value) for value in atoms.values())
    assert "secret-part" not in line and TOKEN not in line
    assert atoms["r"] == "GET /invite/[redacted]/ HTTP/1.1" and atoms["s"] == "302"
    accept = dict(environ, RAW_URI="/invite/accept/", PATH_INFO="/invite/accept/", HTTP_REFERER="-")
    assert logger.atoms(response, request, accept, datetime.timedelta(0))["r"] == "GET /invite/accept/ HTTP/1.1"


def test_the_server_configuration_uses_it() -> None:
    settings = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    assert settings["logger_class"] == "config.gunicorn_logging.RedactingAccessLogger"
