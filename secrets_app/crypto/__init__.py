"""Envelope encryption primitives (AES-256-GCM). No ORM imports here: pure functions on bytes."""
