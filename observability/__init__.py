"""Operators' view of a running Strongroom: the Prometheus ``/metrics`` endpoint (request latency and
SQL statements per route family, queue lags) and JSON log lines (docs/metrics.md). No models."""
