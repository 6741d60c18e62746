"""Generic HTTPS webhook: a signed JSON array per batch (``kind.py``, docs/audit-streams.md)."""
