"""Datadog Logs intake v2: a JSON array of logs (``kind.py``, docs/audit-streams.md)."""
