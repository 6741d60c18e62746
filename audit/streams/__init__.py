"""Audit streams: every sealed audit event of an organization delivered at least once, in id order,
to a SIEM (docs/audit.md). ``base`` is the interface of a stream kind, ``kinds/`` holds one folder
per kind, ``registry`` finds them."""
