"""Sync destinations: one folder per kind behind ``base.SyncProvider``, found through ``registry``."""
