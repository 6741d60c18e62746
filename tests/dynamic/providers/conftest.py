"""Fixtures of the provider tests: moto (server mode, authentication enforced) and its proxy, the
Entra ID + Graph emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dynamic.providers.aws import MotoServer, RecordingProxy, moto_session
from tests.emulators.entra_graph import EntraGraphEmulator


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    yield from moto_session()


@pytest.fixture
def moto_proxy(moto: MotoServer) -> Iterator[RecordingProxy]:
    proxy = RecordingProxy(moto.url)
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def entra(monkeypatch: pytest.MonkeyPatch) -> Iterator[EntraGraphEmulator]:
    """The Entra + Graph emulator, its self-signed CA trusted as production trusts a private CA:
    through ``REQUESTS_CA_BUNDLE``."""
    emulator = EntraGraphEmulator()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_file)
    try:
        yield emulator
    finally:
        emulator.stop()
