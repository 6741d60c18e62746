from __future__ import annotations

from django.db import models


class BookkeepingCursor(models.Model):
    """How far a background job has read an append-only stream (e.g. audit events → last_read_at)."""

    name = models.CharField(max_length=64, unique=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
