"""RFC 5424 syslog over TLS, octet-counted (``kind.py``, docs/audit-streams.md)."""
