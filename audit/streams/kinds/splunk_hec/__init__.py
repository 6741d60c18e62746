"""Splunk HTTP Event Collector: concatenated event envelopes (``kind.py``, docs/audit-streams.md)."""
