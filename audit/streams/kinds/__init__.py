"""Audit stream kinds, one folder each, found through ``audit.streams.registry.STREAM_KINDS``.
The interface is ``audit.streams.base.StreamKind``."""
