"""Microsoft Sentinel / Azure Monitor Logs Ingestion API (``kind.py``, docs/audit-streams.md)."""
