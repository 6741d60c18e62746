"""Tests of the dynamic-secret providers that are not SQL databases, each against a real server or a wire-level emulator."""
