"""Reads of the approvals app (the one place its permission filtering happens)."""
