"""Dynamic secrets: short-lived database credentials issued on demand as leases, and revoked by
Celery workers at expiry (docs/dynamic-secrets.md)."""
